//! One parser per patch format, each turning text or JSON into [`Edit`]s, and the helpers the
//! line-based ones share.

pub mod codex;
pub mod envelope;
pub mod legacy;
pub mod search_replace;
pub mod unified;

use crate::patch::model::{Hunk, Line};

/// The patch's lines without line endings (a CRLF patch reads like an LF one).
pub fn lines<'a>(text: &'a str) -> Vec<&'a str> {
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
pub struct Body {
    pub hunk: Hunk,
    bare_tail: usize,
}

impl Body {
    /// Add a body line (` ctx`, `-old`, `+new`, or an empty line) and return its kind; `None`
    /// (and nothing added) for anything else.
    pub fn push(&mut self, line: &str) -> Option<Line> {
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
    pub fn finish(mut self, trim: bool) -> Hunk {
        if trim {
            let keep = self.hunk.len() - self.bare_tail;
            self.hunk.truncate(keep);
        }
        self.hunk
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
