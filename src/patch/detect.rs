//! `parse`: bytes in, a [`Patch`] out. The format is detected from the content unless forced.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::patch::format::{codex, envelope, legacy, search_replace, unified};
use crate::patch::model::{Edit, Format, Meta, Patch};

pub fn parse(input: &[u8], forced: Option<Format>, strip: Option<usize>) -> Result<Patch> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let text = std::str::from_utf8(input).map_err(|e| anyhow!("the patch is not UTF-8 text ({e})"))?;
    if text.trim().is_empty() {
        bail!("the patch is empty");
    }
    let json = || serde_json::from_str::<Value>(text).context("the patch is not valid JSON");
    let format = match forced {
        Some(format) => format,
        None if text.trim_start().starts_with('{') => {
            if legacy::is_legacy(&json()?) {
                Format::Legacy
            } else {
                Format::Json
            }
        }
        None => detect_text(text),
    };
    let (meta, edits) = match format {
        Format::Json => {
            let value = json()?;
            let obj = envelope::Obj::new(&value, "")?;
            (envelope::meta(&obj)?, envelope::edits(&obj, |t| parse_text(t, detect_text(t), strip))?)
        }
        Format::Legacy => legacy::parse(&json()?)?,
        other => (Meta::default(), parse_text(text, other, strip)?),
    };
    Ok(Patch { meta, format, edits })
}

/// Which text format this is: a Codex envelope or SEARCH/REPLACE blocks by their marker lines,
/// else a unified diff. Each marker's text is looked for in the whole text first (a SIMD scan),
/// so a large diff is not split into lines twice for markers it does not hold.
fn detect_text(text: &str) -> Format {
    let holds = |marker: &str| memchr::memmem::find(text.as_bytes(), marker.as_bytes()).is_some();
    let mut lines = text.lines().map(str::trim_end);
    if holds(codex::BEGIN) && lines.clone().any(|l| l == codex::BEGIN) {
        Format::Codex
    } else if holds(search_replace::MARKER_RUN) && lines.any(search_replace::is_search_marker) {
        Format::SearchReplace
    } else {
        Format::Unified
    }
}

fn parse_text(text: &str, format: Format, strip: Option<usize>) -> Result<Vec<Edit>> {
    match format {
        Format::Unified => unified::parse(text, strip),
        Format::Codex => codex::parse(text),
        Format::SearchReplace => search_replace::parse(text),
        Format::Json | Format::Legacy => bail!("a {format} patch cannot be nested in a JSON envelope's `patch` text"),
    }
}
