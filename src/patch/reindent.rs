//! Re-indenting a hunk's added lines when its context matched only with whitespace ignored: the
//! pairs of (patch line, file line) the match lines up say how the patch's indentation maps onto
//! the file's, and the added lines follow that mapping. A mapping is a shift (the file has a
//! prefix more or less) or a change of unit (tabs for spaces, 4 spaces for 2) with the levels
//! kept or moved by a constant. Every mapping that fits every pair is tried; they must agree on
//! every added line, or nothing says which indentation the author meant and the hunk is refused.

use crate::patch::model::{Hunk, Line};
use crate::patch::text::TextLine;

/// The added lines' texts, re-indented, in order; `None` when they stay as the patch has them.
pub fn added_lines(hunk: &Hunk, file: &[TextLine], whole: &[TextLine]) -> Result<Option<Vec<String>>, String> {
    // (hunk line, patch indent, file indent) for every non-blank old line.
    let pairs: Vec<(usize, &str, &str)> = hunk
        .lines()
        .enumerate()
        .filter(|(_, (kind, _))| *kind != Line::Add)
        .zip(file)
        .filter(|((_, (_, p)), f)| !p.trim().is_empty() && !f.text.trim().is_empty())
        .map(|((i, (_, p)), f)| (i + 1, indent(p), indent(&f.text)))
        .collect();
    if pairs.iter().all(|(_, p, f)| p == f) {
        return Ok(None);
    }
    let added: Vec<&str> = hunk.lines().filter(|(k, _)| *k == Line::Add).map(|(_, t)| t).collect();
    let models: Vec<Model> = candidates(&pairs, &added, whole)
        .into_iter()
        .filter(|m| pairs.iter().all(|(_, p, f)| m.map(p).as_deref() == Some(*f)))
        .collect();
    let Some(first) = models.first() else {
        return identity_beside_slips(&pairs, &added).map(|()| None);
    };
    let mut out = Vec::with_capacity(added.len());
    for line in &added {
        if line.trim().is_empty() {
            out.push(line.to_string());
            continue;
        }
        let (p, body) = line.split_at(indent(line).len());
        let mapped = first.map(p);
        if mapped.is_none() || models.iter().any(|m| m.map(p) != mapped) {
            let (_, cp, cf) = pairs.iter().find(|(_, p, f)| p != f).copied().unwrap_or_default();
            return Err(format!(
                "its context is indented {cp:?} in the patch where the file has {cf:?}, and that does not say how to indent its added line {:?} (the file's indentation width is not clear from it); resend the hunk indented as the file is",
                line.trim()
            ));
        }
        out.push(format!("{}{body}", mapped.unwrap_or_default()));
    }
    Ok(Some(out))
}

/// No mapping fits every pair. When most pairs are indented as in the file and the rest are
/// slips in single context lines, and no added line's indentation is contradicted by a pair
/// with the same patch indentation, the added lines stay as written; else the hunk is refused.
fn identity_beside_slips(pairs: &[(usize, &str, &str)], added: &[&str]) -> Result<(), String> {
    let same = pairs.iter().filter(|(_, p, f)| p == f).count();
    let contradicted = added.iter().filter(|l| !l.trim().is_empty()).map(|l| indent(l)).find(|a| {
        let with: Vec<&&str> = pairs.iter().filter(|(_, p, _)| p == a).map(|(_, _, f)| f).collect();
        !with.is_empty() && !with.iter().any(|f| **f == *a)
    });
    if same * 2 > pairs.len() && contradicted.is_none() {
        return Ok(());
    }
    let (a, pa, fa) = pairs.iter().find(|(_, p, f)| p != f).copied().unwrap_or_default();
    let other = pairs.iter().find(|(_, p, f)| p == f).or_else(|| pairs.iter().filter(|(_, p, f)| p != f).nth(1));
    let tail = other
        .map_or(String::new(), |(b, pb, fb)| format!(", but line {b} is indented {pb:?} where the file has {fb:?}"));
    Err(format!(
        "its indentation does not map onto the file's: line {a} of the hunk is indented {pa:?} where the file has {fa:?}{tail}; resend the hunk indented as the file is"
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Tab,
    Spaces(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Model {
    /// The file's indentation is the patch's with this prefix added.
    Prefix(String),
    /// The file's indentation is the patch's with this prefix taken off.
    Strip(String),
    /// Levels of `from` in the patch are levels of `to` in the file, moved by `by`; spaces past
    /// the last whole level (alignment) are kept.
    Levels { from: Unit, to: Unit, by: isize },
}

impl Model {
    fn map(&self, p: &str) -> Option<String> {
        match self {
            Model::Prefix(extra) => Some(format!("{extra}{p}")),
            Model::Strip(less) => p.strip_prefix(less.as_str()).map(str::to_string),
            Model::Levels { from, to, by } => {
                let (level, rest) = levels(p, *from)?;
                let level = usize::try_from(level as isize + by).ok()?;
                Some(
                    match to {
                        Unit::Tab => "\t".repeat(level),
                        Unit::Spaces(n) => " ".repeat(level * n),
                    } + &" ".repeat(rest),
                )
            }
        }
    }
}

/// An indentation as whole levels of `unit` and spaces left over.
fn levels(s: &str, unit: Unit) -> Option<(usize, usize)> {
    match unit {
        Unit::Tab => {
            let tabs = s.len() - s.trim_start_matches('\t').len();
            let rest = &s[tabs..];
            rest.bytes().all(|b| b == b' ').then_some((tabs, rest.len()))
        }
        Unit::Spaces(n) => s.bytes().all(|b| b == b' ').then_some((s.len() / n, s.len() % n)),
    }
}

fn candidates(pairs: &[(usize, &str, &str)], added: &[&str], whole: &[TextLine]) -> Vec<Model> {
    let mut out = Vec::new();
    if let Some((_, p, f)) = pairs.iter().find(|(_, p, f)| p != f) {
        if let Some(extra) = f.strip_suffix(p) {
            out.push(Model::Prefix(extra.to_string()));
        } else if let Some(less) = p.strip_suffix(f) {
            out.push(Model::Strip(less.to_string()));
        }
    }
    let patch: Vec<&str> = pairs
        .iter()
        .map(|(_, p, _)| *p)
        .chain(added.iter().filter(|l| !l.trim().is_empty()).map(|l| indent(l)))
        .collect();
    let file: Vec<&str> = pairs.iter().map(|(_, _, f)| *f).collect();
    let from = units(&patch, None);
    let to = units(&file, Some(whole));
    for &from in &from {
        for &to in &to {
            let Some((_, p, f)) = pairs.first() else { continue };
            let (Some((lp, _)), Some((lf, _))) = (levels(p, from), levels(f, to)) else { continue };
            out.push(Model::Levels { from, to, by: lf as isize - lp as isize });
        }
    }
    out
}

/// The units an indentation may be counted in: tabs, or the spaces every width is a multiple
/// of (and, for the file, its usual step from one level to the next).
fn units(indents: &[&str], whole: Option<&[TextLine]>) -> Vec<Unit> {
    let tabs = indents.iter().any(|s| s.contains('\t'));
    let spaces = indents.iter().any(|s| s.contains(' '));
    if tabs {
        return if indents.iter().all(|s| levels(s, Unit::Tab).is_some()) { vec![Unit::Tab] } else { Vec::new() };
    }
    if !spaces {
        // No indentation to count: the file's own habit, where there is a file to ask.
        let Some(whole) = whole else { return vec![Unit::Tab, Unit::Spaces(4)] };
        let tabbed = whole.iter().filter(|l| l.text.starts_with('\t')).count();
        let spaced = whole.iter().filter(|l| l.text.starts_with(' ')).count();
        return vec![if tabbed > spaced { Unit::Tab } else { Unit::Spaces(step(whole).unwrap_or(4)) }];
    }
    let gcd = indents.iter().map(|s| s.len()).filter(|&w| w > 0).fold(0, gcd);
    let mut out = vec![Unit::Spaces(gcd)];
    if let Some(step) = whole.and_then(step).filter(|&s| s != gcd) {
        out.push(Unit::Spaces(step));
    }
    out
}

/// The most common increase of space indentation from one non-blank line to the next (1 to 8).
fn step(lines: &[TextLine]) -> Option<usize> {
    let mut count = [0usize; 9];
    let mut last = 0;
    for l in lines.iter().filter(|l| !l.text.trim().is_empty()) {
        let ind = indent(&l.text);
        if ind.contains('\t') {
            continue;
        }
        if ind.len() > last && ind.len() - last <= 8 {
            count[ind.len() - last] += 1;
        }
        last = ind.len();
    }
    (1..=8).filter(|&s| count[s] > 0).max_by_key(|&s| (count[s], s))
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn indent(s: &str) -> &str {
    &s[..s.len() - s.trim_start().len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::text::Text;

    fn hunk(lines: &[(Line, &str)]) -> Hunk {
        let mut h = Hunk::default();
        lines.iter().for_each(|(k, t)| h.push(*k, t));
        h
    }

    fn run(lines: &[(Line, &str)], file: &str) -> Result<Option<Vec<String>>, String> {
        let text = Text::decode(file.as_bytes()).unwrap();
        added_lines(&hunk(lines), &text.lines, &text.lines)
    }

    use Line::{Add, Context, Remove};

    #[test]
    fn spaces_in_the_patch_become_the_files_tabs() {
        let got = run(
            &[
                (Context, "func f() {"),
                (Context, "    if a {"),
                (Remove, "        b()"),
                (Add, "        c()"),
                (Add, "    }"),
            ],
            "func f() {\n\tif a {\n\t\tb()\n",
        );
        assert_eq!(got, Ok(Some(vec!["\t\tc()".to_string(), "\t}".to_string()])));
    }

    #[test]
    fn two_space_levels_become_four() {
        let got = run(
            &[(Context, "def f():"), (Context, "  if a:"), (Remove, "    b()"), (Add, "    c()"), (Add, "  d()")],
            "def f():\n    if a:\n        b()\n",
        );
        assert_eq!(got, Ok(Some(vec!["        c()".to_string(), "    d()".to_string()])));
    }

    #[test]
    fn a_shift_keeps_working() {
        let got = run(
            &[(Context, "if a {"), (Remove, "    b();"), (Add, "    c();"), (Context, "}")],
            "        if a {\n            b();\n        }\n",
        );
        assert_eq!(got, Ok(Some(vec!["            c();".to_string()])));
    }

    #[test]
    fn one_level_does_not_say_the_width_so_deeper_lines_are_refused() {
        // Context at 2 spaces, file at 4: a shift by 2 or a doubling; the line at 4 says 6 or 8.
        let err =
            run(&[(Context, "  a()"), (Remove, "  b()"), (Add, "  if c:"), (Add, "    d()")], "    a()\n    b()\n")
                .unwrap_err();
        assert!(err.contains("\"d()\""), "{err}");
        // The added lines at the context's own level are clear either way.
        let ok = run(&[(Context, "  a()"), (Remove, "  b()"), (Add, "  c()")], "    a()\n    b()\n");
        assert_eq!(ok, Ok(Some(vec!["    c()".to_string()])));
    }

    #[test]
    fn inconsistent_indentation_is_refused_and_a_single_slip_is_not() {
        let err = run(&[(Context, "a"), (Context, "  b"), (Remove, "c"), (Add, "C")], "a\n\tb\n    c\n").unwrap_err();
        assert!(err.contains("does not map"), "{err}");
        let slip = run(
            &[(Context, "    a"), (Context, "b"), (Context, "    c"), (Remove, "    d"), (Add, "    D")],
            "    a\n    b\n    c\n    d\n",
        );
        assert_eq!(slip, Ok(None));
    }
}
