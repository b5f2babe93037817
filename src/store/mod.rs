//! Everything runner keeps on disk (README "On disk"): paths, atomic writes, locks, queue
//! transitions, the audit log, heartbeats, the mode and per-patch results.

pub(crate) mod atomic;
pub(crate) mod events;
pub(crate) mod fs;
pub(crate) mod heartbeat;
pub(crate) mod lock;
pub(crate) mod mode;
pub(crate) mod paths;
pub mod queue;
pub(crate) mod read;
pub mod results;

pub use paths::Home;

/// Read a JSON record; `None` when the file does not exist. `what` names it in errors
/// (`could not parse heartbeat /x/y.json`).
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    what: &str,
) -> anyhow::Result<Option<T>> {
    use anyhow::Context;
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("could not parse {what} {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("could not read {what} {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn read_json_absent_present_and_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        assert_eq!(super::read_json::<u32>(&p, "record").unwrap(), None);
        std::fs::write(&p, "7").unwrap();
        assert_eq!(super::read_json::<u32>(&p, "record").unwrap(), Some(7));
        std::fs::write(&p, "{torn").unwrap();
        let err = format!("{:#}", super::read_json::<u32>(&p, "record").unwrap_err());
        assert!(err.starts_with(&format!("could not parse record {}", p.display())), "{err}");
    }
}
