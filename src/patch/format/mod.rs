//! One parser per patch format, each turning text or JSON into [`Edit`]s, and the helpers the
//! line-based ones share.

pub mod codex;
pub mod envelope;
pub mod legacy;
pub mod search_replace;
pub mod unified;

use crate::patch::model::{Hunk, Line};

/// The patch's lines without line endings (a CRLF patch reads like an LF one).
pub fn lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    if text.ends_with('\n') {
        lines.pop();
    }
    lines
}

/// A hunk body line: ` ctx`, `-old`, `+new`, or an empty line (a blank context line whose
/// leading space was lost). `None` for anything else.
pub fn body_line(line: &str) -> Option<Line> {
    let mut chars = line.chars();
    match chars.next() {
        None => Some(Line::Context(String::new())),
        Some(' ') => Some(Line::Context(chars.as_str().to_string())),
        Some('-') => Some(Line::Remove(chars.as_str().to_string())),
        Some('+') => Some(Line::Add(chars.as_str().to_string())),
        _ => None,
    }
}

/// Drop empty context lines at the end of a hunk: there they separate hunks, not context.
pub fn trim_trailing_blank_context(hunk: &mut Hunk) {
    while matches!(hunk.lines.last(), Some(Line::Context(t)) if t.is_empty()) {
        hunk.lines.pop();
    }
}

/// Strip a leading label from a file name line (`### a.rs`, `` `a.rs` ``, `File: a.rs`).
pub fn clean_name(line: &str) -> &str {
    let mut name = line.trim().trim_start_matches('#').trim();
    for prefix in ["File:", "file:", "Path:", "path:"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest.trim();
        }
    }
    name.trim_matches(|c| c == '`' || c == '*' || c == '"').trim_end_matches(':').trim()
}
