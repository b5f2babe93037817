//! Secrets named in the config as `*_env` (an environment variable) or `*_file` (a path).
//! The config never holds a secret's value, so printing it cannot leak one; values are read
//! only when needed and never logged.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// Where one secret comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SecretRef<'a> {
    /// The config key's stem, for messages: `server.token`.
    pub key: &'static str,
    pub env: Option<&'a str>,
    pub file: Option<&'a Path>,
}

/// How a secret looks from outside: configured or not, never its value.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct SecretStatus {
    pub source: Option<String>,
    pub set: bool,
}

impl SecretRef<'_> {
    /// The secret's value; `None` when neither source is configured or the variable is unset.
    /// An unreadable or empty file is an error: the operator asked for it and it is not there.
    pub(crate) fn resolve(&self) -> Result<Option<String>> {
        if let Some(path) = self.file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("could not read {}_file {}", self.key, path.display()))?;
            let value = text.trim_end_matches(['\r', '\n']).to_string();
            if value.is_empty() {
                bail!("{}_file {} is empty", self.key, path.display());
            }
            return Ok(Some(value));
        }
        Ok(self.env.and_then(|name| std::env::var(name).ok()).filter(|v| !v.is_empty()))
    }

    pub(crate) fn status(&self) -> SecretStatus {
        let source = match (self.file, self.env) {
            (Some(p), _) => Some(format!("file {}", p.display())),
            (None, Some(e)) => Some(format!("env ${e}")),
            (None, None) => None,
        };
        SecretStatus { source, set: self.resolve().ok().flatten().is_some() }
    }
}
