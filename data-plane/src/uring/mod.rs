//! The io_uring backend for plain HTTP/1.1 WebSeed traffic (`[http] io = "uring"`): one ring
//! per worker thread, beside the epoll workers, which keep the tracker, operations, HTTP/2 and
//! anything else this path hands them. `probe` decides at start whether the kernel (or a
//! seccomp profile: Docker's default refuses io_uring) lets us; `http1` is the pure protocol
//! part, `residency` the cold-page guard's memory, `small_send` the choice of how small bodies
//! leave, `worker` the ring loop.

pub mod buffers;
pub mod http1;
pub mod residency;
pub mod small_send;
pub mod worker;

use io_uring::{opcode, IoUring, Probe};

/// What the kernel offers, found at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Support {
    /// `sendmsg` zero-copy (`IORING_OP_SENDMSG_ZC`, Linux 6.1).
    pub zero_copy: bool,
    /// Deferred task running (`IORING_SETUP_DEFER_TASKRUN`, Linux 6.1): completions are posted
    /// only when the worker waits for them, not whenever it enters the kernel to submit —
    /// measured 4–13 % less CPU per 16 KiB request at 1 000 connections than cooperative task
    /// running, which the workers use where it is missing.
    pub defer_taskrun: bool,
}

/// The ring a worker runs: single issuer, and deferred task running where the kernel has it
/// (cooperative otherwise).
pub fn ring(entries: u32, cq_entries: u32, defer_taskrun: bool) -> std::io::Result<IoUring> {
    let mut builder = IoUring::builder();
    builder.setup_cqsize(cq_entries).setup_single_issuer();
    if defer_taskrun {
        builder.setup_defer_taskrun();
    } else {
        builder.setup_coop_taskrun();
    }
    builder.build(entries)
}

/// Whether io_uring can run the workers here: a ring with the flags they use (single issuer and
/// cooperative task running, Linux 6.0, which also brings multishot accept and receive), the
/// operations they submit and a ring of provided buffers. The error says why not, for the one log line of the fallback.
pub fn probe() -> Result<Support, String> {
    let ring: IoUring = IoUring::builder()
        .setup_single_issuer()
        .setup_coop_taskrun()
        .build(8)
        .map_err(|e| format!("io_uring is not available ({e}); a seccomp profile such as Docker's default refuses it"))?;
    let mut probe = Probe::new();
    ring.submitter().register_probe(&mut probe).map_err(|e| format!("io_uring cannot be probed ({e})"))?;
    for (code, name) in [
        (opcode::AcceptMulti::CODE, "accept"),
        (opcode::RecvMulti::CODE, "recv"),
        (opcode::SendMsg::CODE, "sendmsg"),
        (opcode::AsyncCancel::CODE, "async cancel"),
        (opcode::PollAdd::CODE, "poll"),
    ] {
        if !probe.is_supported(code) {
            return Err(format!("this kernel's io_uring lacks {name}"));
        }
    }
    let buffers = buffers::BufRing::new(&ring, 8, 64, 0).map_err(|e| format!("this kernel's io_uring has no provided buffer rings ({e})"))?;
    let zero_copy = probe.is_supported(opcode::SendMsgZc::CODE);
    // The ring goes before the memory it was given.
    drop(ring);
    drop(buffers);
    let defer_taskrun = self::ring(8, 16, true).is_ok();
    Ok(Support { zero_copy, defer_taskrun })
}

/// Fuzzing entry point: a request head read as the io_uring workers read it.
pub fn fuzz_one(data: &[u8]) {
    let _ = http1::parse(data, |p| p.starts_with("/tracker/"));
}
