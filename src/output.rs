//! Writing to stdout without panicking on a closed pipe (`runner status | head`): every write
//! returns its error, and `main` treats a broken pipe as a quiet success.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

/// Print text as is (add the newline yourself).
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Print a value as pretty JSON and a newline.
pub fn json<T: Serialize>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    print(&text)
}

pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
