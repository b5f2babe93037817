//! `<env>/results/<id>.json`: what happened to one patch. Written by apply-patch, read by
//! gen-docs, status, the webhook's `GET /patches/{id}` and Slack.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{Home, atomic, queue::State};
use crate::time::rfc3339;

pub const SCHEMA: u32 = 1;

/// The end of a patch's road.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every file changed as the patch says and the checks passed.
    Applied,
    /// The tree already held the change; nothing was written.
    AlreadyApplied,
    /// The patch could not be applied (a hunk did not match, a path was fenced off, …); nothing was written.
    Refused,
    /// Applied, then a validate command failed and every file was restored.
    RolledBack,
    /// The run failed for a reason outside the patch (I/O, a crash recovered later).
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PatchResult {
    pub schema: u32,
    pub id: String,
    pub env: String,
    pub state: State,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The detected or forced format: json, unified, codex, search-replace, legacy.
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_rfc3339")]
    pub received_at: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    #[serde(default)]
    pub files: Vec<FileResult>,
    #[serde(default)]
    pub checks: Vec<CheckRun>,
    /// Why it was refused, rolled back or failed, in words for the model and the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When `runner revert` restored the files from the backup, and who asked.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_rfc3339")]
    pub reverted_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_by: Option<String>,
    /// The git commit that recorded the patch (`git = "commit"` environments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The git commit that recorded its revert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_commit: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileResult {
    pub path: String,
    /// create, modify, delete, move, chmod.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub added: u64,
    pub removed: u64,
    /// How the hunks were found: exact, offset, fuzzy-whitespace, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckRun {
    pub command: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
    /// Combined stdout and stderr, cut to the environment's output_limit.
    pub output: String,
}

pub fn write(home: &Home, result: &PatchResult) -> Result<()> {
    atomic::write_json(&home.result_file(&result.env, &result.id)?, result)
}

pub fn read(home: &Home, env: &str, id: &str) -> Result<Option<PatchResult>> {
    super::read_json(&home.result_file(env, id)?, "result")
}

mod opt_rfc3339 {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&Utc)).map_err(serde::de::Error::custom))
            .transpose()
    }
}
