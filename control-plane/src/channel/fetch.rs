//! Fetch orders on the catalog channel, the control plane's end (does I/O through the sessions):
//! the sessions of nodes that hold a cache folder (they name the fetch capability) register
//! here; orders and discards from the redundancy engine go to every such node, and their
//! reports go back to the engine. A node that connects gets every current order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::mpsc;
use vidseed_shared::channel::ControlMessage;
use vidseed_shared::fetch::{Discard, FetchOrder, FetchReport};

use crate::redundancy::{FetchSink, RedundancyEngine};

/// The nodes that take fetch orders, and the engine their reports go to.
#[derive(Default)]
pub struct FetchHub {
    nodes: Mutex<HashMap<String, (u64, mpsc::UnboundedSender<ControlMessage>)>>,
    engine: OnceLock<Arc<RedundancyEngine>>,
}

impl FetchHub {
    /// Connects the hub and the engine both ways.
    pub fn attach(self: &Arc<Self>, engine: Arc<RedundancyEngine>) {
        engine.set_sink(Arc::clone(self) as Arc<dyn FetchSink>);
        let _ = self.engine.set(engine);
    }

    /// A capable node's session: the messages to send it (every current order first).
    pub async fn join(&self, node: &str, session: u64) -> mpsc::UnboundedReceiver<ControlMessage> {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Some(engine) = self.engine.get() {
            match engine.orders().await {
                Ok(orders) => {
                    for order in orders {
                        let _ = tx.send(ControlMessage::Fetch { order });
                    }
                }
                Err(e) => tracing::warn!("cannot list the fetch orders for node {node:?}: {e}"),
            }
        }
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).insert(node.to_owned(), (session, tx));
        rx
    }

    /// The session ended.
    pub fn leave(&self, node: &str, session: u64) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        if nodes.get(node).is_some_and(|(s, _)| *s == session) {
            nodes.remove(node);
        }
    }

    /// A node's report, handed to the engine.
    pub async fn report(&self, node: &str, report: FetchReport) {
        if let Some(engine) = self.engine.get() {
            if let Err(e) = engine.on_report(node, report).await {
                tracing::warn!("fetch report from node {node:?}: {e}");
            }
        }
    }

    fn broadcast(&self, msg: ControlMessage) {
        for (_, tx) in self.nodes.lock().unwrap_or_else(|p| p.into_inner()).values() {
            let _ = tx.send(msg.clone());
        }
    }
}

impl FetchSink for FetchHub {
    fn order(&self, order: &FetchOrder) {
        self.broadcast(ControlMessage::Fetch { order: order.clone() });
    }

    fn discard(&self, discard: &Discard) {
        self.broadcast(ControlMessage::Discard(discard.clone()));
    }
}
