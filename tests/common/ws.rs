//! A WebSocket client for tracker tests (fastwebsockets), and the binary-string helpers.
#![allow(dead_code)]

use std::time::Duration;

use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::Node;

pub type Ws = FragmentCollector<TokioIo<hyper::upgrade::Upgraded>>;

/// Runs hyper's background tasks (the WebSocket handshake's connection) on tokio.
pub struct Exec;
impl<F> hyper::rt::Executor<F> for Exec
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        tokio::spawn(fut);
    }
}

/// A WebSocket upgrade request for `target` (a URL or a path) with this `Host`.
pub fn upgrade_request(target: &str, host: &str) -> http::Request<Empty<bytes::Bytes>> {
    http::Request::get(target)
        .header("host", host)
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-key", fastwebsockets::handshake::generate_key())
        .header("sec-websocket-version", "13")
        .body(Empty::<bytes::Bytes>::new())
        .unwrap()
}

/// Opens a WebSocket to the node's data plane; `Err` carries the HTTP status when refused.
pub async fn try_connect(node: &Node, path: &str) -> Result<Ws, String> {
    let stream = tokio::net::TcpStream::connect(node.data).await.map_err(|e| e.to_string())?;
    let req = upgrade_request(&format!("http://{}{path}", node.data), &node.data.to_string());
    let (ws, _) = fastwebsockets::handshake::client(&Exec, req, stream).await.map_err(|e| e.to_string())?;
    Ok(FragmentCollector::new(ws))
}

pub async fn connect(node: &Node, path: &str) -> Ws {
    try_connect(node, path).await.unwrap()
}

/// The 20-character binary string for 20 bytes.
pub fn bin(bytes: &[u8]) -> String {
    assert_eq!(bytes.len(), 20);
    bytes.iter().map(|&b| char::from(b)).collect()
}

pub fn id(x: u8) -> String {
    bin(&[x; 20])
}

pub fn hex_to_bin(hex: &str) -> String {
    let bytes: Vec<u8> = (0..20).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    bin(&bytes)
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.write_frame(Frame::text(Payload::Owned(v.to_string().into_bytes()))).await.unwrap();
}

pub async fn recv(ws: &mut Ws) -> Value {
    let frame = tokio::time::timeout(Duration::from_secs(10), ws.read_frame()).await.expect("a message in time").unwrap();
    assert_eq!(frame.opcode, OpCode::Text);
    serde_json::from_slice(&frame.payload).unwrap()
}

/// True once the server has closed the connection (a Close frame or the end of the stream).
pub async fn closed_by_server(ws: &mut Ws, within: Duration) -> bool {
    match tokio::time::timeout(within, ws.read_frame()).await {
        Ok(Err(_)) => true,
        Ok(Ok(f)) => f.opcode == OpCode::Close,
        Err(_) => false,
    }
}
