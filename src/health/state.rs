//! Reading the state files health-check and watchdog keep (`state/health.json`,
//! `state/watchdog.json`) and the one time type they share. Writes go through
//! `store::atomic::write_json`, so a reader sees the old file or the new one.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::time::rfc3339;

/// A UTC instant written the one way runner writes times (RFC 3339, milliseconds, `Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Time(#[serde(with = "rfc3339")] pub DateTime<Utc>);

impl Time {
    pub(crate) fn now() -> Time {
        Time(Utc::now())
    }
    /// `self + d`, saturating (a config may say `window = "100000w"`).
    pub(crate) fn plus(self, d: std::time::Duration) -> Time {
        let later = chrono::Duration::from_std(d).ok().and_then(|d| self.0.checked_add_signed(d));
        Time(later.unwrap_or(DateTime::<Utc>::MAX_UTC))
    }
    /// `self - d`, saturating.
    pub(crate) fn minus(self, d: std::time::Duration) -> Time {
        let earlier = chrono::Duration::from_std(d).ok().and_then(|d| self.0.checked_sub_signed(d));
        Time(earlier.unwrap_or(DateTime::<Utc>::MIN_UTC))
    }
    /// Seconds from `self` until `later` (0 if `later` is earlier).
    pub(crate) fn secs_until(self, later: Time) -> u64 {
        (later.0 - self.0).num_seconds().max(0) as u64
    }
}

/// Load a state file; a missing one is the default. One that cannot be parsed (written by a
/// different version, edited by hand) or is a directory is set aside as `<file>.bad` and
/// replaced by the default, with a warning, so a monitor never stops monitoring over its own
/// bookkeeping.
pub(crate) fn load<T: DeserializeOwned + Default>(path: &Path) -> Result<T> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(T::default()),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
            set_aside(path, "it is a directory")?;
            return Ok(T::default());
        }
        Err(e) => return Err(e).with_context(|| format!("could not read state {}", path.display())),
    };
    match serde_json::from_slice(&bytes) {
        Ok(value) => Ok(value),
        Err(e) => {
            set_aside(path, &format!("could not parse it: {e}"))?;
            Ok(T::default())
        }
    }
}

/// Move `path` to `<file>.bad` (a directory to the first free `<file>.bad.N`, since it cannot
/// replace what is there) and say so.
fn set_aside(path: &Path, why: &str) -> Result<()> {
    let mut aside = path.with_extension("json.bad");
    if path.is_dir() {
        let mut n = 1;
        while aside.symlink_metadata().is_ok() {
            n += 1;
            aside = path.with_extension(format!("json.bad.{n}"));
        }
    }
    crate::store::atomic::rename(path, &aside)?;
    super::warn(&format!(
        "{} was unusable ({why}); moved it to {} and started afresh",
        path.display(),
        aside.display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_corrupt_state_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("health.json");
        assert!(load::<BTreeMap<String, u32>>(&p).unwrap().is_empty());
        std::fs::write(&p, "{not json").unwrap();
        assert!(load::<BTreeMap<String, u32>>(&p).unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(dir.path().join("health.json.bad")).unwrap(), "{not json");
        // A directory in its place goes aside too, beside the earlier bad file.
        std::fs::create_dir_all(p.join("x")).unwrap();
        assert!(load::<BTreeMap<String, u32>>(&p).unwrap().is_empty());
        assert!(dir.path().join("health.json.bad.2/x").is_dir());
        assert!(!p.exists());
    }

    #[test]
    fn times_round_trip() {
        let t = Time::now();
        let text = serde_json::to_string(&t).unwrap();
        assert!(text.ends_with("Z\""), "{text}");
        let back: Time = serde_json::from_str(&text).unwrap();
        assert_eq!(back.0.timestamp_millis(), t.0.timestamp_millis());
        assert_eq!(t.secs_until(t.plus(std::time::Duration::from_secs(90))), 90);
        assert_eq!(t.plus(std::time::Duration::from_secs(90)).secs_until(t), 0);
        assert_eq!(t.minus(std::time::Duration::from_secs(90)).secs_until(t), 90);
        let forever = std::time::Duration::from_millis(u64::MAX);
        assert_eq!(t.plus(forever).0, DateTime::<Utc>::MAX_UTC);
        assert_eq!(t.minus(forever).0, DateTime::<Utc>::MIN_UTC);
    }
}
