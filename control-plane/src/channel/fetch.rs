//! Fetch orders on the catalog channel, the control plane's end (does I/O through the sessions):
//! the sessions of nodes that hold a cache folder (they name the fetch capability) register
//! here; orders and discards from the redundancy engine go to every such node, and their
//! reports go back to the engine. A node that connects gets every current order, then (when it
//! names the kept capability) the list of every copy kept, so that it deletes the copies
//! removed while it was away.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::mpsc;
use vidseed_shared::channel::ControlMessage;
use vidseed_shared::fetch::{Discard, FetchOrder, FetchReport, Kept};

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

    /// A capable node's session: the messages to send it (every current order first, then the
    /// copies kept when `kept` is set). The node joins before the orders are listed, so that an
    /// order made meanwhile reaches it too (an order given twice is carried out once).
    pub async fn join(&self, node: &str, session: u64, kept: bool) -> mpsc::UnboundedReceiver<ControlMessage> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).insert(node.to_owned(), (session, tx.clone()));
        if let Some(engine) = self.engine.get() {
            match engine.orders().await {
                Ok(orders) => {
                    for order in orders {
                        let _ = tx.send(ControlMessage::Fetch { order });
                    }
                }
                Err(e) => tracing::warn!("cannot list the fetch orders for node {node:?}: {e}"),
            }
            if kept {
                match engine.kept_ids().await {
                    Ok(ids) => {
                        let _ = tx.send(ControlMessage::Kept(Kept { ids }));
                    }
                    // Without the list the node keeps what it has: nothing is deleted wrongly.
                    Err(e) => tracing::warn!("cannot list the copies kept for node {node:?}: {e}"),
                }
            }
        }
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
