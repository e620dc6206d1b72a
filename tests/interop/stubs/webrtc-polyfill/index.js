// WebRTC is absent in the Node interop tests; WebTorrent then uses WebSeeds (BEP 19) only.
export const RTCPeerConnection = undefined
export const RTCSessionDescription = undefined
export const RTCIceCandidate = undefined
export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate }
