//! Keeps the node alive when a served file is truncated under its mapping (does I/O: installs a
//! process-wide SIGBUS handler).
//!
//! The kernel copies body bytes straight from the mapping into the socket; a page past a
//! truncated file's new end then makes `write()` fail with EFAULT and only that connection
//! ends. But any user-space touch of such a page (a small HTTP/2 frame is copied into h2's
//! buffer) raises SIGBUS, which would kill the process. The handler installed here replaces the
//! faulting page with an anonymous zero page, so the access completes with zeros and the thread
//! carries on; the catalog's revalidation then stops serving the changed file. Only faults the
//! kernel reports as a non-existent physical address (`BUS_ADRERR`, what a mapping past end of
//! file raises) are recovered; any other SIGBUS gets the default action.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Once;

static INSTALL: Once = Once::new();
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);
static RECOVERED: AtomicU64 = AtomicU64::new(0);

/// Installs the handler once per process; later calls do nothing.
pub fn install() {
    INSTALL.call_once(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if page > 0 {
            PAGE_SIZE.store(page as usize, Ordering::Relaxed);
        }
        // SAFETY: a zeroed sigaction is a valid starting value; we fill in the handler, flags
        // and an empty mask before passing it to sigaction, which only reads it.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()) != 0 {
                tracing::warn!("could not install the SIGBUS guard: {}", std::io::Error::last_os_error());
            }
        }
    });
}

/// How many faulting pages the handler has replaced since the process started.
pub fn recovered_faults() -> u64 {
    RECOVERED.load(Ordering::Relaxed)
}

extern "C" fn handler(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // Only async-signal-safe operations below: atomics, mmap and sigaction.
    // SAFETY: the kernel hands a valid siginfo_t to an SA_SIGINFO handler.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    if code == libc::BUS_ADRERR && addr != 0 {
        let page = addr & !(PAGE_SIZE.load(Ordering::Relaxed) - 1);
        // SAFETY: the page lies inside a mapping of this process (it just faulted there);
        // MAP_FIXED replaces that one page with private zeros, which every reader tolerates.
        let mapped = unsafe {
            libc::mmap(
                page as *mut libc::c_void,
                PAGE_SIZE.load(Ordering::Relaxed),
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if mapped != libc::MAP_FAILED {
            RECOVERED.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    // Not ours to recover: fall back to the default action, which the retried access raises.
    // SAFETY: resetting a signal's disposition to SIG_DFL is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    #[test]
    fn truncated_mapping_reads_zeros_instead_of_killing_the_process() {
        super::install();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&vec![7u8; 64 * 1024]).unwrap();
        file.flush().unwrap();
        let map = unsafe { memmap2::Mmap::map(file.as_file()).unwrap() };
        assert_eq!(map[60 * 1024], 7);
        file.as_file().set_len(4096).unwrap();
        let before = super::recovered_faults();
        // A read past the new end of file: SIGBUS without the guard.
        let byte = unsafe { std::ptr::read_volatile(map.as_ptr().add(60 * 1024)) };
        assert_eq!(byte, 0);
        assert!(super::recovered_faults() > before);
        assert_eq!(map[0], 7, "pages before the new end keep their bytes");
    }
}
