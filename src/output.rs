//! Writing to stdout without panicking on a closed pipe (`runner status | head`): every write
//! returns its error, and `main` treats a broken pipe as a quiet success. With `--json` stdout
//! holds one JSON document: `main` prints an error as one unless a command already printed its.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use serde::Serialize;

/// Print text as is (add the newline yourself).
pub(crate) fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Set once a JSON document went to stdout.
static PRINTED_JSON: AtomicBool = AtomicBool::new(false);

/// Print a value as pretty JSON and a newline.
pub(crate) fn json<T: Serialize>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    PRINTED_JSON.store(true, Ordering::Relaxed);
    print(&text)
}

/// Whether this process already printed its JSON document.
pub(crate) fn printed_json() -> bool {
    PRINTED_JSON.load(Ordering::Relaxed)
}

pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
