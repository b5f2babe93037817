//! Probes (`health-check`) and the restart state machine (`watchdog`).

pub(crate) mod check;
pub(crate) mod circuit;
pub(crate) mod launch;
pub(crate) mod ping;
pub(crate) mod probe;
pub(crate) mod procfs;
pub(crate) mod state;
pub(crate) mod watchdog;

use anyhow::{Result, bail};

/// `runner: warning: …` on stderr, for trouble that must not fail a monitoring run.
pub(crate) fn warn(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "runner: warning: {text}");
}

/// The items `names` picks (all when empty), in config order; an unknown name is an error that
/// lists the known ones. `what` is `check` or `component`.
pub(crate) fn select<'a, T>(
    items: &'a [T],
    names: &[String],
    name_of: fn(&T) -> &str,
    what: &str,
) -> Result<Vec<&'a T>> {
    for name in names {
        if !items.iter().any(|i| name_of(i) == name) {
            let known: Vec<_> = items.iter().map(name_of).collect();
            bail!(
                "no {what} is named {name:?}; runner.toml defines {}",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            );
        }
    }
    Ok(items.iter().filter(|i| names.is_empty() || names.iter().any(|n| n == name_of(i))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let items = ["a".to_string(), "b".to_string()];
        let name = String::as_str;
        assert_eq!(select(&items, &[], name, "check").unwrap().len(), 2);
        assert_eq!(select(&items, &["b".into()], name, "check").unwrap(), [&items[1]]);
        let err = select(&items, &["c".into()], name, "check").unwrap_err().to_string();
        assert_eq!(err, "no check is named \"c\"; runner.toml defines a, b");
        let err = select(&[] as &[String], &["c".into()], name, "component").unwrap_err().to_string();
        assert!(err.ends_with("defines none"), "{err}");
    }
}
