//! SIGTERM and SIGINT set a flag that the accept loop and idle connections poll; the handler
//! does nothing else, which is all a signal handler may safely do.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};

/// Set once a stop was asked for; never cleared.
pub(crate) static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Route SIGTERM and SIGINT to [`STOP`]. No `SA_RESTART`: a blocked `poll` returns at once.
pub(crate) fn install() -> Result<()> {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler only
        // stores to an atomic, which is async-signal-safe.
        let ok = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut()) == 0
        };
        if !ok {
            bail!("could not install a handler for signal {signal}: {}", std::io::Error::last_os_error());
        }
    }
    Ok(())
}

pub(crate) fn stopping() -> bool {
    STOP.load(Ordering::Relaxed)
}
