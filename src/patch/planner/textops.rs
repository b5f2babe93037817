//! The text operations of a JSON envelope: `replace` (literal, falling back to the matcher's
//! line-wise forgiveness) and `regex`. Both need the text exactly where they say, the number of
//! times they say; a replacement found already made changes nothing.

use regex::Regex;

use super::{Work, line_delta};
use crate::patch::model::{Hunk, Line};
use crate::patch::plan::Snapshot;
use crate::patch::refusal::Refusal;
use crate::patch::text::Eol;
use crate::patch::{hunks, placeholder};

impl Work<'_> {
    pub(super) fn replace(
        &mut self,
        path: &str,
        search: &str,
        replace: &str,
        count: Option<usize>,
    ) -> Result<(), Refusal> {
        // As whole lines, the matcher forgives line endings and whitespace (and says where the
        // closest lines are); as a hunk, a placeholder in the replacement is seen for what it is.
        let mut hunk = Hunk::default();
        crate::patch::format::lines(search).into_iter().for_each(|l| hunk.push(Line::Remove, l));
        crate::patch::format::lines(&in_file_eol(replace, Eol::Lf)).into_iter().for_each(|l| hunk.push(Line::Add, l));
        if let Some((n, line)) = placeholder::in_hunk(path, &hunk) {
            let n = n - crate::patch::format::lines(search).len();
            return Err(Refusal::new(
                path,
                format!(
                    "line {n} of the replacement, {:?}, looks like a placeholder for code left out: written literally it would delete what the search text holds; send the replacement whole",
                    line.trim()
                ),
            ));
        }
        let i = self.existing(path)?;
        let (text, mode) = self.text(i)?;
        let body = String::from_utf8(text.encode()).unwrap_or_default();
        let replace = in_file_eol(replace, text.eol);
        let expected = count.unwrap_or(1);
        let found = body.matches(search).count();
        let (bytes, matched) = if found == expected {
            (body.replace(search, &replace).into_bytes(), "literal".to_string())
        } else if found > 0 {
            return Err(Refusal::new(
                path,
                format!(
                    "the search text occurs {found} times, not {expected}; add surrounding text to make it unique, or set `count`"
                ),
            ));
        } else if looks_applied(&body, &replace, Some(expected)) {
            self.entries[i].note("already-applied");
            return Ok(());
        } else {
            let hunks = [hunk];
            let applied = hunks::apply(path, &text, &hunks).map_err(|mut r| {
                // Said of the search text, not of a hunk.
                if r.reason.contains("match in") {
                    r.reason = r.reason.replacen("its lines", "the search text's lines", 1);
                } else if r.reason.ends_with("another file)") || r.reason.contains("nearest match") {
                    let f = r.failed.as_deref();
                    r.reason = match (f.and_then(|f| f.line), f.and_then(|f| f.found.as_ref()), f.and_then(|f| f.expected.as_ref())) {
                        (Some(line), Some(found), Some(expected)) => format!(
                            "the search text is not in the file; nearest match: line {line} reads {found:?} where the search text has {expected:?}"
                        ),
                        _ => "the search text is not in the file".to_string(),
                    };
                }
                r.hunk = None;
                r
            })?;
            (applied.text.encode(), applied.matched(1))
        };
        self.set_text(i, bytes, mode, matched);
        Ok(())
    }

    pub(super) fn regex(
        &mut self,
        path: &str,
        pattern: &str,
        replacement: &str,
        count: Option<usize>,
    ) -> Result<(), Refusal> {
        let i = self.existing(path)?;
        let (text, mode) = self.text(i)?;
        let re = Regex::new(pattern).map_err(|e| Refusal::new(path, format!("invalid regular expression: {e}")))?;
        let body = String::from_utf8(text.encode()).unwrap_or_default();
        let mut found = 0;
        for m in re.find_iter(&body) {
            if m.is_empty() {
                let line = body[..m.start()].matches('\n').count() + 1;
                return Err(Refusal::new(path, format!("the pattern matches the empty string at line {line}")));
            }
            found += 1;
        }
        if found == 0 {
            if !replacement.contains('$') && looks_applied(&body, replacement, count) {
                self.entries[i].note("already-applied");
                return Ok(());
            }
            return Err(Refusal::new(path, format!("the pattern {pattern:?} matches nothing in the file")));
        }
        if let Some(expected) = count.filter(|&c| c != found) {
            return Err(Refusal::new(path, format!("the pattern matches {found} times, not {expected}")));
        }
        let bytes = re.replace_all(&body, replacement).into_owned().into_bytes();
        self.set_text(i, bytes, mode, "regex".to_string());
        Ok(())
    }

    fn set_text(&mut self, i: usize, bytes: Vec<u8>, mode: u32, matched: String) {
        let e = &mut self.entries[i];
        let (a, r) = line_delta(e.now.as_ref().map_or(&[][..], |s| &s.bytes), &bytes);
        (e.added, e.removed) = (e.added + a, e.removed + r);
        e.set(Some(Snapshot { bytes, mode }), matched);
    }
}

/// A replacement whose search text is gone was already made when its text is there as many
/// times as it would be put (`None`: at least once). Short texts occur by chance, so they never
/// count as proof.
fn looks_applied(body: &str, replacement: &str, times: Option<usize>) -> bool {
    let found = body.matches(replacement).count();
    replacement.trim().len() >= 16 && times.map_or(found > 0, |t| found == t)
}

/// Line endings in replacement text as the file has them.
fn in_file_eol(s: &str, eol: Eol) -> String {
    match eol {
        Eol::Crlf => s.replace("\r\n", "\n").replace('\n', "\r\n"),
        _ => s.replace("\r\n", "\n"),
    }
}
