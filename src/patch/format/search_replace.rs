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

use anyhow::{Result, bail};

use super::{clean_name, lines};
use crate::patch::model::{Edit, FileDiff, Hunk, Line};

pub fn is_search_marker(line: &str) -> bool {
    marker(line, '<', "SEARCH")
}

/// What every SEARCH marker line holds: a text without it has none.
pub const MARKER_RUN: &str = "<<<<<<<";

/// Seven or more `c`, then the word (models vary the count).
fn marker(line: &str, c: char, word: &str) -> bool {
    let rest = line.trim_start_matches(c);
    line.len() - rest.len() >= MARKER_RUN.len() && rest.trim() == word
}

fn is_divider(line: &str) -> bool {
    line.len() >= 7 && line.trim_end().chars().all(|c| c == '=')
}

pub fn parse(text: &str) -> Result<Vec<Edit>> {
    let lines = lines(text);
    let mut edits = Vec::new();
    let mut name: Option<&str> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let n = i + 1;
        i += 1;
        if !is_search_marker(line) {
            let trimmed = line.trim();
            if !trimmed.is_empty() && !trimmed.starts_with("```") && !trimmed.starts_with("~~~") {
                name = Some(clean_name(trimmed));
            }
            continue;
        }
        let Some(path) = name.filter(|p| !p.is_empty()) else {
            bail!("line {n}: SEARCH block with no file name on a line before it");
        };
        let mut search = Vec::new();
        while i < lines.len() && !is_divider(lines[i]) {
            search.push(lines[i]);
            i += 1;
        }
        if i == lines.len() {
            bail!("line {n}: SEARCH block has no `=======` line");
        }
        i += 1;
        let mut replace = Vec::new();
        while i < lines.len() && !marker(lines[i], '>', "REPLACE") {
            replace.push(lines[i]);
            i += 1;
        }
        if i == lines.len() {
            bail!("line {n}: SEARCH block has no `>>>>>>> REPLACE` line");
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
    Ok(edits)
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
}
