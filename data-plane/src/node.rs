//! A data node, whole: its catalog store, its servers (WebSeeds and the tracker on one port, the
//! disk watcher), the channel that follows a control plane, and the stats it reports there.
//! [`DataNode::start`] starts the store and servers, [`DataNode::follow`] the channel, and
//! [`DataNode::shutdown`] stops all of it. Does I/O (threads, sockets, the disk).

pub mod stats;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::catalog::CatalogStore;
use crate::channel::{ChannelClient, ChannelConfig};
use crate::config::DataPlaneConfig;
use crate::server::{DataPlane, RunningDataPlane};

/// What a data node needs to start.
#[derive(Clone, Debug)]
pub struct DataNodeConfig {
    /// The servers: address, workers, connection limits, TLS, the tracker.
    pub servers: DataPlaneConfig,
}

/// A running data node; dropping it does not stop it, [`DataNode::shutdown`] does.
pub struct DataNode {
    store: Arc<CatalogStore>,
    servers: RunningDataPlane,
    channel: Option<ChannelClient>,
    tls: bool,
}

impl DataNode {
    /// Starts an empty catalog and the servers on it; returns once the port accepts
    /// connections. The node serves nothing until it follows a control plane.
    pub fn start(config: DataNodeConfig) -> std::io::Result<DataNode> {
        let store = Arc::new(CatalogStore::new());
        let servers = DataPlane::start(&config.servers, Arc::clone(&store))?;
        Ok(DataNode { store, servers, channel: None, tls: config.servers.tls.is_some() })
    }

    /// Follows the control plane `channel` names: its updates become the served catalog, and
    /// the node's stats (those of the disk of its first folder) are reported to it. Separate
    /// from [`DataNode::start`] because the node's own address (which a control plane embedded
    /// in the same process needs first) is known only once the servers listen. Following
    /// another control plane stops following the first.
    pub fn follow(&mut self, channel: ChannelConfig) -> std::io::Result<()> {
        for f in &channel.folders {
            if !f.path.is_dir() {
                tracing::warn!("folder {} (library {:?}) is not a folder on this node: its files will be refused", f.path.display(), f.library);
            }
        }
        let disk = channel.folders.first().map(|f| f.path.clone()).unwrap_or_default();
        let client = ChannelClient::start(channel, Arc::clone(&self.store), stats::source(&self.servers, disk))?;
        if let Some(previous) = self.channel.replace(client) {
            previous.shutdown();
        }
        Ok(())
    }

    /// The address the servers listen on.
    pub fn local_addr(&self) -> SocketAddr {
        self.servers.local_addr()
    }

    /// `https` when the servers speak TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// The URL the node gives when its configuration names none: its own address, `https://`
    /// with TLS (an unspecified listen address is reached on loopback, and a warning says to
    /// set `public_url`).
    pub fn own_url(&self) -> String {
        let (addr, scheme) = (self.local_addr(), self.scheme());
        if addr.ip().is_unspecified() {
            tracing::warn!("[node] public_url is not set: viewers are told {scheme}://127.0.0.1:{}; set it to this node's public URL", addr.port());
            return format!("{scheme}://127.0.0.1:{}", addr.port());
        }
        format!("{scheme}://{addr}")
    }

    /// Stops the channel (the catalog stays as it is), then the servers: no more connections are
    /// accepted, requests in flight may finish within the configured grace, every thread is
    /// joined.
    pub fn shutdown(self) {
        if let Some(channel) = self.channel {
            channel.shutdown();
        }
        self.servers.shutdown();
    }
}

/// A public `http://` URL for a port that only speaks TLS is almost always a mistake: every
/// WebSeed request and tracker connection to it would fail (unless a proxy in front speaks TLS
/// to the node). Said once at start; `what` names the setting (`--public-url`).
pub fn warn_plain_url_over_tls(tls: bool, public_url: Option<&str>, what: &str) {
    if let Some(url) = public_url.filter(|u| tls && u.starts_with("http://")) {
        tracing::warn!("{what} is {url}, but this data plane speaks only TLS: torrents will name http:// WebSeeds and a ws:// tracker on a TLS port (use https://, unless a proxy in front speaks TLS to this node)");
    }
}
