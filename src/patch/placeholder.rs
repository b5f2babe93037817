//! Lazy placeholders: the `// ... existing code ...` a model writes in new text where it means
//! "keep what is there". Written literally it deletes the code it stands for, so a hunk whose
//! added lines hold one, while it removes real lines, is refused. Only lines that are nothing
//! but such a comment count, and never one the old text holds too; real code that looks like one
//! (Python's and YAML's bare `...`, a spread `...args`, Rust's `..`, doc comments) does not.

use crate::patch::model::{Hunk, Line};

/// The first added line of `hunk` that reads as a placeholder, as (1-based line of the hunk,
/// text), when the hunk also removes a non-blank line.
pub(super) fn in_hunk(file: &str, hunk: &Hunk) -> Option<(usize, String)> {
    let removes = hunk.lines().any(|(kind, t)| kind == Line::Remove && !t.trim().is_empty());
    if !removes {
        return None;
    }
    let docs = is_prose(file);
    let bare_dots_are_code = bare_dots_are_code(file);
    let (i, text) = hunk
        .lines()
        .enumerate()
        .find(|&(_, (kind, t))| kind == Line::Add && is_placeholder(t, docs, bare_dots_are_code))
        .map(|(i, (_, t))| (i, t))?;
    let in_old = hunk.lines().any(|(kind, t)| kind != Line::Add && t.trim() == text.trim());
    (!in_old).then(|| (i + 1, text.to_string()))
}

/// Whether a line is nothing but a placeholder: a comment (in any common syntax) holding only
/// dots, or dots and a few words, or words that say the code is left out or unchanged; or a
/// bare ellipsis where the language gives that no meaning.
fn is_placeholder(line: &str, docs: bool, bare_dots_are_code: bool) -> bool {
    let t = line.trim();
    // The cheap test first: most added lines start with neither a comment nor a dot.
    if !t.starts_with(['/', '#', '-', ';', '%', '<', '{', '(', '.', '\u{2026}', '\'', '*']) {
        return false;
    }
    if is_dots(t) {
        return !bare_dots_are_code && !docs;
    }
    // In prose a bare `// ...` is a quoted example; words saying code is left out are not.
    match comment_body(t) {
        Some((body, html)) if html || !docs => says_left_out(body),
        Some((body, _)) => !is_dots(body.trim()) && says_left_out(body),
        None => false,
    }
}

/// The text inside a line that is only a comment, and whether it is an HTML comment.
fn comment_body(t: &str) -> Option<(&str, bool)> {
    let wrapped = [("<!--", "-->"), ("{/*", "*/}"), ("/*", "*/"), ("(*", "*)"), ("{-", "-}")];
    for (open, close) in wrapped {
        if let Some(inner) = t.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
            return Some((inner, open == "<!--"));
        }
    }
    // Line comments; doc comments (`///`, `//!`, `#!`, `##`) are prose, never placeholders.
    for open in ["//", "#", "--", ";", "%", "'"] {
        if let Some(inner) = t.strip_prefix(open) {
            let doc = inner.starts_with(['/', '!', '#', '-', ';', '%', '\'', '[']);
            return (!doc).then_some((inner, false));
        }
    }
    None
}

/// Whether a comment's text says "code left out here".
fn says_left_out(body: &str) -> bool {
    let body = body.trim().to_lowercase();
    if body.is_empty() {
        return false;
    }
    if is_dots(&body) {
        return true;
    }
    let words: Vec<&str> = body.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).collect();
    if words.is_empty() || words.len() > 10 {
        return false;
    }
    let dotted =
        body.starts_with("...") || body.ends_with("...") || body.starts_with('\u{2026}') || body.ends_with('\u{2026}');
    let has = |set: &[&str]| words.iter().any(|w| set.contains(w));
    const CODE: &[&str] = &[
        "code",
        "existing",
        "rest",
        "remaining",
        "remainder",
        "other",
        "others",
        "previous",
        "original",
        "unchanged",
        "same",
        "omitted",
        "implementation",
        "body",
        "logic",
        "content",
        "contents",
        "methods",
        "functions",
        "fields",
        "imports",
        "lines",
        "etc",
        "more",
        "here",
        "before",
        "above",
        "below",
    ];
    const LEFT: &[&str] =
        &["unchanged", "omitted", "same", "brevity", "remains", "stays", "unmodified", "untouched", "as-is"];
    const NOUN: &[&str] = &[
        "code",
        "rest",
        "remaining",
        "remainder",
        "existing",
        "previous",
        "original",
        "implementation",
        "body",
        "logic",
        "content",
        "contents",
        "methods",
        "functions",
        "fields",
        "imports",
        "lines",
        "everything",
        "function",
        "method",
        "class",
        "file",
    ];
    if dotted {
        return has(CODE);
    }
    // No dots: a word saying it is left out, and one saying what (`rest of the function
    // unchanged`, `existing code omitted`); or `existing code` on its own.
    (has(LEFT) && has(NOUN)) || (words.len() <= 4 && words.windows(2).any(|w| w == ["existing", "code"]))
}

/// Three or more dots (or an ellipsis character), and nothing else.
fn is_dots(t: &str) -> bool {
    let dots = t.chars().filter(|&c| c == '.').count() + 3 * t.chars().filter(|&c| c == '\u{2026}').count();
    dots >= 3 && t.chars().all(|c| c == '.' || c == '\u{2026}' || c.is_whitespace())
}

fn extension(file: &str) -> &str {
    let name = file.rsplit('/').next().unwrap_or(file);
    name.rsplit_once('.').map_or("", |(_, ext)| ext)
}

/// Languages where a bare `...` is code: Python's statement body, YAML's document end.
fn bare_dots_are_code(file: &str) -> bool {
    matches!(extension(file), "py" | "pyi" | "pyx" | "yaml" | "yml")
}

/// Documentation, where code comments are quoted examples: there a comment of dots alone does
/// not count (`<!-- ... -->` does).
fn is_prose(file: &str) -> bool {
    matches!(extension(file), "md" | "markdown" | "rst" | "txt" | "adoc" | "org")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hunk(lines: &[(Line, &str)]) -> Hunk {
        let mut h = Hunk::default();
        lines.iter().for_each(|(k, t)| h.push(*k, t));
        h
    }

    #[test]
    fn placeholders_in_each_comment_syntax() {
        for p in [
            "    // ... existing code ...",
            "# rest of the function unchanged",
            "/* ... */",
            "...",
            "  \u{2026}",
            "<!-- ... -->",
            "-- ...",
            "{/* ... */}",
            "// ...rest of the code",
            "# existing code",
            "// Other methods remain unchanged",
            "; ... more ...",
        ] {
            assert!(is_placeholder(p, false, false), "{p}");
        }
    }

    #[test]
    fn real_code_and_comments_are_not_placeholders() {
        for p in [
            "    foo(...args);",
            "    ..",
            "/// ...",
            "//! ...",
            "// leave the buffer unchanged",
            "// run the rest of the tests",
            "// Loading...",
            "# TODO",
            "    return ...",
            "--verbose",
            "'...'",
        ] {
            assert!(!is_placeholder(p, false, false), "{p}");
        }
        assert!(!is_placeholder("    ...", false, true), "Python's statement body");
        assert!(!is_placeholder("// ...", true, false), "a quoted example in Markdown");
        assert!(is_placeholder("// ... existing code ...", true, false));
        assert!(is_placeholder("<!-- ... -->", true, false));
    }

    #[test]
    fn only_where_real_lines_are_removed_and_not_in_the_old_text() {
        let replaced = hunk(&[(Line::Context, "fn f() {"), (Line::Remove, "    a();"), (Line::Add, "    // ...")]);
        assert_eq!(in_hunk("f.rs", &replaced), Some((3, "    // ...".to_string())));
        let added = hunk(&[(Line::Context, "fn f() {"), (Line::Add, "    // ...")]);
        assert_eq!(in_hunk("f.rs", &added), None);
        let kept = hunk(&[(Line::Context, "    // ..."), (Line::Remove, "    a();"), (Line::Add, "    // ...")]);
        assert_eq!(in_hunk("f.rs", &kept), None);
        let python = hunk(&[(Line::Context, "def f():"), (Line::Remove, "    pass"), (Line::Add, "    ...")]);
        assert_eq!(in_hunk("m.py", &python), None);
        assert!(in_hunk("m.js", &python).is_some());
    }
}
