// Two real bittorrent-tracker clients (the npm library WebTorrent uses) announce over HTTP to a
// tracker and scrape it; prints what they saw as JSON.
//   node http_tracker_client.mjs ANNOUNCE_URL INFO_HASH_HEX
import Client from 'bittorrent-tracker'

const [announceUrl, infoHash] = process.argv.slice(2)

function start (peerByte, port, left) {
  return new Promise((resolve, reject) => {
    const client = new Client({
      infoHash,
      peerId: Buffer.alloc(20, peerByte).toString('hex'),
      announce: [announceUrl],
      port,
      getAnnounceOpts: () => ({ left, uploaded: 0, downloaded: 0 })
    })
    const seen = { peers: [], update: null }
    client.on('error', reject)
    client.on('warning', reject)
    client.on('peer', (addr) => seen.peers.push(addr))
    // Resolves once the tracker has answered the first announce (no fixed wait).
    client.on('update', (data) => {
      seen.update = { complete: data.complete, incomplete: data.incomplete }
      resolve({ client, seen })
    })
    client.start()
  })
}

const a = await start(0x0a, 6881, 100)
const b = await start(0x0b, 6882, 0)
const scrape = await new Promise((resolve, reject) => {
  b.client.once('scrape', (data) => resolve({ complete: data.complete, incomplete: data.incomplete, downloaded: data.downloaded }))
  b.client.once('warning', reject)
  b.client.scrape()
})
console.log(JSON.stringify({ a: a.seen, b: b.seen, scrape }))
a.client.destroy()
b.client.destroy()
