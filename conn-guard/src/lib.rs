//! What keeps one client from holding a server's connections without using them, shared by
//! both planes' HTTP servers: the timeouts of a connection's life (`policy`, pure; `watched`,
//! the I/O wrapper and watchdog that apply it), the per-address cap (`per_ip`) and the process's
//! file-descriptor budget (`fd_budget`).

pub mod fd_budget;
pub mod per_ip;
pub mod policy;
pub mod watched;

pub use fd_budget::{nofile_limit, raise_nofile_limit, ConnBudget, ConnSlot};
pub use per_ip::{IpSlot, PerIp};
pub use policy::{Sample, Timeouts, Verdict, Watch};
pub use watched::{guard, Activity, Answering, Places, Watched};

/// What a server answers, without reading the request, to a connection it will not serve
/// (then it closes it): a plain 503 that says why.
pub fn refusal(reason: &str) -> String {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Retry-After: 5\r\nConnection: close\r\n\r\n{reason}\n",
        reason.len() + 1
    )
}
