//! Running vidseed as the admins of large instances do, against the real binary over loopback:
//! its log lines, health endpoints, Prometheus metrics, systemd units and status page.

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/cluster.rs"]
mod cluster;

mod logs;
mod metrics;
mod prometheus;
mod status_page;
mod systemd;
