//! SEARCH/REPLACE blocks, as chat models write them: a file name on a line of its own (maybe in
//! backticks or after `###`), an optional Markdown fence, then
//!
//! ```text
//! <<<<<<< SEARCH
//! old lines
//! =======
//! new lines
//! >>>>>>> REPLACE
//! ```
//!
//! Each block becomes a hunk without line numbers: its SEARCH lines must be found exactly once.
//! An empty SEARCH appends to the file (or creates it).

use std::collections::HashMap;

use anyhow::{Result, bail};

use super::{clean_name, lines, truncated};
use crate::patch::model::{Edit, FileDiff, Hunk, Line};
use crate::patch::refusal::Refusal;

/// A line that opens a block: `<<<<<<< SEARCH` (a stray `>` after the word is forgiven) or
/// Cline's `------- SEARCH`.
fn is_search_marker(line: &str) -> bool {
    marker(line, ['<', '-'], "SEARCH")
}

fn is_replace_marker(line: &str) -> bool {
    marker(line, ['>', '+'], "REPLACE")
}

/// 5 to 9 of one marker character, then the word, maybe with a stray `>` (models vary the
/// count; aider accepts the same range). Surrounding whitespace is ignored.
fn marker(line: &str, chars: [char; 2], word: &str) -> bool {
    let line = line.trim();
    let Some(c) = line.chars().next().filter(|c| chars.contains(c)) else { return false };
    let rest = line.trim_start_matches(c);
    let word_part = rest.trim_start();
    (5..=9).contains(&(line.len() - rest.len())) && word_part.strip_suffix('>').unwrap_or(word_part).trim_end() == word
}

/// `=======`: 5 to 9 `=` and nothing else but whitespace around them. A line of whitespace
/// alone is content, never the divider.
fn is_divider(line: &str) -> bool {
    let t = line.trim();
    (5..=9).contains(&t.len()) && t.bytes().all(|b| b == b'=')
}

/// Whether a text is SEARCH/REPLACE blocks: a SEARCH marker at the start of a line. Cline's
/// `------- SEARCH` also reads as a removed line, so it counts only in a text with no `@@` hunk
/// header. The word is looked for in the whole text first (a SIMD scan), so a large diff
/// without it is not split into lines for this.
pub(crate) fn detect(text: &str) -> bool {
    if memchr::memmem::find(text.as_bytes(), b"SEARCH").is_none() {
        return false;
    }
    let mut cline = false;
    for line in text.lines() {
        match line.as_bytes().first() {
            Some(b'<') if is_search_marker(line) => return true,
            Some(b'-') if is_search_marker(line) => cline = true,
            _ => {}
        }
    }
    cline && !text.lines().any(|l| l.starts_with("@@"))
}

pub(crate) fn parse(text: &str) -> Result<Vec<Edit>> {
    let lines = lines(text);
    let mut edits = Vec::new();
    let mut name: Option<&str> = None;
    // Blocks read so far per file, to number them in refusals.
    let mut blocks: HashMap<&str, usize> = HashMap::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let n = i + 1;
        i += 1;
        if !is_search_marker(line) {
            let trimmed = line.trim();
            // aider's `...` between blocks means the same file, next block.
            if !trimmed.is_empty() && !is_fence(trimmed) && trimmed != "..." {
                name = Some(clean_name(trimmed));
            }
            continue;
        }
        let Some(path) = name.filter(|p| !p.is_empty()) else {
            bail!("line {n}: SEARCH block with no file name on a line before it");
        };
        let block = blocks.entry(path).or_default();
        *block += 1;
        let block = *block;
        let malformed = |why: String| anyhow::Error::new(Refusal::new(path, why).hunk(block));
        let mut search = Vec::new();
        while i < lines.len() && !is_divider(lines[i]) {
            if is_replace_marker(lines[i]) {
                return Err(malformed(format!(
                    "line {}: `>>>>>>> REPLACE` comes before the block's `=======` line; resend the block with SEARCH lines, `=======`, then REPLACE lines",
                    i + 1
                )));
            }
            search.push(lines[i]);
            i += 1;
        }
        if i == lines.len() {
            return Err(truncated(path, Some(block), "it has no `=======` line after its SEARCH lines"));
        }
        i += 1;
        let mut replace = Vec::new();
        while i < lines.len() && !is_replace_marker(lines[i]) {
            if is_search_marker(lines[i]) {
                return Err(malformed(format!(
                    "line {}: a new `<<<<<<< SEARCH` starts before this block's `>>>>>>> REPLACE` line; close every block with `>>>>>>> REPLACE`",
                    i + 1
                )));
            }
            replace.push(lines[i]);
            i += 1;
        }
        if i == lines.len() {
            return Err(truncated(path, Some(block), "it has no `>>>>>>> REPLACE` line after its new lines"));
        }
        i += 1;
        let mut hunk = Hunk::default();
        hunk.at_eof = search.is_empty();
        search.iter().for_each(|l| hunk.push(Line::Remove, l));
        replace.iter().for_each(|l| hunk.push(Line::Add, l));
        edits.push(Edit::Diff(FileDiff {
            old_path: Some(path.to_string()),
            new_path: Some(path.to_string()),
            hunks: vec![hunk],
            ..FileDiff::default()
        }));
    }
    if edits.is_empty() {
        bail!("no `<<<<<<< SEARCH` blocks");
    }
    // An opening fence with a language, or the start of a SEARCH line, as the last line: the
    // next block was cut off there.
    let last = lines.iter().rev().map(|l| l.trim()).find(|l| !l.is_empty()).unwrap_or_default();
    let opening = last.trim_start_matches('<');
    if opening.len() < last.len() && " SEARCH".starts_with(opening) {
        return Err(truncated(
            name.unwrap_or("the patch"),
            None,
            "it stops in the `<<<<<<< SEARCH` line of the next block",
        ));
    }
    if is_fence(last) && !last.trim_start_matches(['`', '~']).trim().is_empty() {
        return Err(truncated(
            name.unwrap_or("the patch"),
            None,
            "it stops after opening a code fence, before the next block's SEARCH line",
        ));
    }
    Ok(edits)
}

fn is_fence(line: &str) -> bool {
    line.starts_with("```") || line.starts_with("~~~")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_with_names_and_fences() {
        let edits = parse(
            "Change the greeting:\n\n### src/main.py\n```python\n<<<<<<< SEARCH\nprint('hi')\n=======\nprint('hello')\n>>>>>>> REPLACE\n```\n\n`b.txt`\n<<<<<<< SEARCH\n=======\nappended\n>>>>>>> REPLACE\n",
        )
        .unwrap();
        assert_eq!(edits.len(), 2);
        let Edit::Diff(d) = &edits[0] else { panic!() };
        assert_eq!(d.old_path.as_deref(), Some("src/main.py"));
        assert_eq!(d.hunks[0].old_lines(), vec!["print('hi')"]);
        assert_eq!(d.hunks[0].new_lines(), vec!["print('hello')"]);
        let Edit::Diff(d) = &edits[1] else { panic!() };
        assert_eq!(d.old_path.as_deref(), Some("b.txt"));
        assert!(d.hunks[0].at_eof && d.hunks[0].old_lines().is_empty());
    }

    #[test]
    fn unterminated_and_nameless_blocks_are_errors() {
        assert!(
            parse("<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n").unwrap_err().to_string().contains("no file name")
        );
        assert!(parse("f\n<<<<<<< SEARCH\na\n").unwrap_err().to_string().contains("======="));
        assert!(parse("f\n<<<<<<< SEARCH\na\n=======\nb\n").unwrap_err().to_string().contains("REPLACE"));
    }

    #[test]
    fn markers_and_dividers() {
        for search in [
            "<<<<<<< SEARCH",
            "<<<<< SEARCH",
            "<<<<<<<<< SEARCH",
            "<<<<<<< SEARCH>",
            " <<<<<<< SEARCH ",
            "------- SEARCH",
        ] {
            assert!(is_search_marker(search), "{search:?}");
        }
        for not in ["<<<< SEARCH", "<<<<<<<<<< SEARCH", "<<<<<<< HEAD", "-<<<<<<< SEARCH", "<<<<<<< SEARCHING"] {
            assert!(!is_search_marker(not), "{not:?}");
        }
        assert!(is_replace_marker(">>>>>>> REPLACE") && is_replace_marker("+++++++ REPLACE"));
        for divider in ["=====", "=======", "=========", "  =======  "] {
            assert!(is_divider(divider), "{divider:?}");
        }
        for not in ["        ", "", "====", "==========", "= = = = ="] {
            assert!(!is_divider(not), "{not:?}");
        }
        let cut = |text: &str| parse(text).unwrap_err().to_string();
        let block = "f.txt\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n";
        assert!(cut(&format!("{block}\ng.txt\n<<<<<<< SEA")).contains("`<<<<<<< SEARCH` line of the next block"));
        assert!(cut(&format!("{block}\ng.txt\n<<")).contains("it looks truncated"));
        assert!(cut(&format!("{block}\ng.txt\n```rust\n")).contains("opening a code fence"));
        // A unified diff that removes a Cline marker line is still a unified diff.
        assert!(!detect("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-------- SEARCH\n+x\n"));
        assert!(detect("x\n------- SEARCH\na\n=======\nb\n+++++++ REPLACE\n"));
        assert!(!detect("--- a/x\n+++ b/x\n@@ -1 +1 @@\n <<<<<<< SEARCH\n-a\n+b\n"));
    }
}
