//! One parser per patch format, each turning text or JSON into [`Edit`]s, and the helpers the
//! line-based ones share.

pub(crate) mod codex;
pub(crate) mod envelope;
pub(crate) mod legacy;
pub(crate) mod search_replace;
mod stamp;
pub(crate) mod unified;

use crate::patch::model::{Hunk, Line};
use crate::patch::refusal::Refusal;

/// A patch that stops inside a hunk, block or envelope: model output cut off by a token limit.
/// Applying what arrived would delete lines without their replacement or write half a line, so
/// it is refused (exit 1) with a reason the model can act on. `hunk` is 1-based within `file`.
pub(crate) fn truncated(file: &str, hunk: Option<usize>, why: &str) -> anyhow::Error {
    let place = match hunk {
        Some(n) => format!("hunk {n} of {file}"),
        None => file.to_string(),
    };
    let mut refusal = Refusal::new(
        file,
        format!("the patch ends in the middle of {place} ({why}): it looks truncated; resend it whole"),
    );
    refusal.hunk = hunk;
    anyhow::Error::new(refusal)
}

/// Headers that say two different things about one file: refused rather than read one way.
pub(crate) fn contradiction(file: &str, what: &str) -> anyhow::Error {
    anyhow::Error::new(Refusal::new(
        file,
        format!("the headers contradict each other: {what}; resend the diff with headers that agree"),
    ))
}

/// The patch's lines without line endings (a CRLF patch reads like an LF one).
pub(crate) fn lines<'a>(text: &'a str) -> Vec<&'a str> {
    let strip = |l: &'a str| l.strip_suffix('\r').unwrap_or(l);
    let mut lines = Vec::with_capacity(memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text.as_bytes()) {
        lines.push(strip(&text[start..end]));
        start = end + 1;
    }
    if !text.ends_with('\n') {
        lines.push(strip(&text[start..]));
    }
    lines
}

/// A hunk being read, line by line. Bare empty lines are blank context lines whose leading space
/// was lost; at the end of a hunk they are separators instead, and are dropped.
#[derive(Debug, Default)]
pub(crate) struct Body {
    pub hunk: Hunk,
    bare_tail: usize,
}

impl Body {
    /// Add a body line (` ctx`, `-old`, `+new`, or an empty line) and return its kind; `None`
    /// (and nothing added) for anything else.
    pub(crate) fn push(&mut self, line: &str) -> Option<Line> {
        let kind = match line.as_bytes().first() {
            None | Some(b' ') => Line::Context,
            Some(b'-') => Line::Remove,
            Some(b'+') => Line::Add,
            _ => return None,
        };
        self.bare_tail = if line.is_empty() { self.bare_tail + 1 } else { 0 };
        self.hunk.push(kind, line.get(1..).unwrap_or_default());
        Some(kind)
    }

    /// The hunk, without its trailing bare empty lines when `trim`.
    pub(crate) fn finish(mut self, trim: bool) -> Hunk {
        if trim {
            let keep = self.hunk.len() - self.bare_tail;
            self.hunk.truncate(keep);
        }
        self.hunk
    }
}

/// Strip a leading label from a file name line (`### a.rs`, `` `a.rs` ``, `File: a.rs`).
pub(crate) fn clean_name(line: &str) -> &str {
    let mut name = line.trim().trim_start_matches('#').trim();
    for prefix in ["File:", "file:", "Path:", "path:"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest.trim();
        }
    }
    name.trim_matches(|c| c == '`' || c == '*' || c == '"').trim_end_matches(':').trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_drop_endings_and_only_a_final_empty_piece() {
        assert_eq!(lines(""), vec![""]);
        assert_eq!(lines("a\n"), vec!["a"]);
        assert_eq!(lines("a\r\n\nb"), vec!["a", "", "b"]);
        assert_eq!(lines("a\n\n"), vec!["a", ""]);
        assert_eq!(lines("x\ry\r"), vec!["x\ry"]);
    }
}
