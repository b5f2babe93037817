//! Re-indenting a hunk's added lines when its context matched only with whitespace ignored: the
//! pairs of (patch line, file line) the match lines up say how the patch's indentation maps onto
//! the file's, and the added lines follow that mapping. A mapping is a shift (the file has a
//! prefix more or less) or a change of unit (tabs for spaces, 4 spaces for 2) with the levels
//! kept or moved by a constant. Every mapping that fits every pair is tried; they must agree on
//! every added line, or nothing says which indentation the author meant and the hunk is refused.

use crate::patch::model::{Hunk, Line};
use crate::patch::text::TextLine;

/// The added lines' texts, re-indented, in order; `None` when they stay as the patch has them.
pub(super) fn added_lines(
    name: &str,
    hunk: &Hunk,
    file: &[TextLine],
    whole: &[TextLine],
    habit: &mut Option<Habit>,
) -> Result<Option<Vec<String>>, String> {
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
    let habit = *habit.get_or_insert_with(|| Habit::of(name, whole));
    let matched: Vec<&str> = pairs.iter().map(|(_, _, f)| *f).collect();
    let fit = |to: Vec<Unit>| -> Vec<Model> {
        candidates(&pairs, &added, &to)
            .into_iter()
            .filter(|m| pairs.iter().all(|(_, p, f)| m.map(p).as_deref() == Some(*f)))
            .collect()
    };
    // The file's unit is its habit; a file with none is read from the matched lines.
    let habit_unit = match habit {
        Habit::Tabs => Some(Unit::Tab),
        Habit::Spaces(step) if step > 0 => Some(Unit::Spaces(step)),
        _ => None,
    };
    let mut fitting = fit(habit_unit.map_or_else(|| units(&matched), |unit| vec![unit]));
    // A file can mix habits (an object literal by 2 spaces, its functions by tabs): when no
    // mapping onto its habit fits, the unit the matched lines are indented in is tried.
    if fitting.is_empty() && habit_unit.is_some() && matched.iter().any(|f| !f.is_empty()) {
        fitting = fit(units(&matched));
    }
    // Of the mappings that fit, those that leave every added line indented as the file
    // indents (a shift by 2 in a file indented by 4 does not) are the ones to agree.
    let plausible: Vec<Model> = fitting
        .iter()
        .filter(|m| {
            added.iter().filter(|l| !l.trim().is_empty()).all(|l| m.map(indent(l)).is_some_and(|i| habit.allows(&i)))
        })
        .cloned()
        .collect();
    let models = if plausible.is_empty() { fitting } else { plausible };
    // Added lines that repeat a removed one (a block's unchanged lines) are the file's own
    // where the hunk is a block, so they neither decide nor contradict a mapping.
    let removed: Vec<&str> = hunk.lines().filter(|(k, _)| *k == Line::Remove).map(|(_, t)| t).collect();
    let repeats = |l: &str| removed.contains(&l);
    let Some(first) = models.first() else {
        let fresh: Vec<&str> = added.iter().copied().filter(|l| !repeats(l)).collect();
        return identity_beside_slips(&pairs, &fresh).map(|()| None);
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
            if repeats(line) {
                out.push(line.to_string());
                continue;
            }
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

/// When no old line of a hunk is indented, its context says nothing of how the patch's
/// indentation maps onto the file's: the added lines are checked against the file's own habit
/// instead (tabs, or spaces by some step). Added lines indented with spaces where the file uses
/// tabs, with tabs where it uses spaces, or by a smaller step that divides the file's (2 spaces a
/// level where the file uses 4) were re-indented on the way; the hunk is refused.
pub(super) fn check_unanchored(
    name: &str,
    hunk: &Hunk,
    habit: &mut Option<Habit>,
    whole: &[TextLine],
) -> Result<(), String> {
    let mut old = hunk.lines().filter(|(k, t)| *k != Line::Add && !t.trim().is_empty());
    if old.any(|(_, t)| !indent(t).is_empty()) || exempt(name) {
        return Ok(());
    }
    // A file with no indented line (new, empty, or flat) shows no habit of its own to go
    // against; its language's convention only chooses between mappings context proposes.
    if !whole.iter().any(|l| l.text.starts_with([' ', '\t'])) {
        return Ok(());
    }
    let added: Vec<&str> = hunk
        .lines()
        .filter(|(k, t)| *k == Line::Add && !t.trim().is_empty() && !t.trim_start().starts_with('*'))
        .map(|(_, t)| indent(t))
        .filter(|i| !i.is_empty())
        .collect();
    if added.is_empty() {
        return Ok(());
    }
    let problem = match *habit.get_or_insert_with(|| Habit::of(name, whole)) {
        Habit::Tabs => added
            .iter()
            .find(|i| i.starts_with("  "))
            .map(|_| "with spaces where the file indents with tabs".to_string()),
        Habit::Spaces(step) => {
            let gcd = added.iter().filter(|i| !i.contains('\t')).map(|i| i.len()).fold(0, gcd);
            if added.iter().any(|i| i.starts_with('\t')) {
                Some("with tabs where the file indents with spaces".to_string())
            } else if gcd >= 2 && gcd < step && step.is_multiple_of(gcd) {
                Some(format!("by {gcd} spaces a level where the file uses {step}"))
            } else {
                None
            }
        }
        Habit::None => None,
    };
    match problem {
        Some(p) => Err(format!(
            "its added lines are indented {p}, and its context, at the left margin, does not say how to map them; resend the hunk indented as the file is"
        )),
        None => Ok(()),
    }
}

/// How a file indents, from its lines: mostly tabs, or spaces by its usual step; a file with no
/// indented line goes by its language's fixed convention where it has one (Rust and Python 4
/// spaces, gofmt's tabs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Habit {
    Tabs,
    Spaces(usize),
    None,
}

impl Habit {
    /// Whether an indentation is one this file's habit makes: whole steps of its spaces, or
    /// tabs (with spaces after them only for alignment).
    fn allows(self, indent: &str) -> bool {
        match self {
            Habit::Tabs => !indent.starts_with("  "),
            Habit::Spaces(step) if step > 0 => !indent.contains('\t') && indent.len().is_multiple_of(step),
            _ => true,
        }
    }

    fn of(name: &str, whole: &[TextLine]) -> Habit {
        let lines = whole.iter().filter(|l| !l.text.trim().is_empty());
        let (tabbed, spaced) = lines.fold((0, 0), |(t, s), l| {
            (t + usize::from(l.text.starts_with('\t')), s + usize::from(l.text.starts_with("  ")))
        });
        if tabbed > spaced {
            Habit::Tabs
        } else if spaced > 0 {
            Habit::Spaces(step(whole).unwrap_or(0))
        } else {
            match name.rsplit_once('.').map_or("", |(_, e)| e) {
                "rs" | "py" | "pyi" => Habit::Spaces(4),
                "go" => Habit::Tabs,
                _ => Habit::None,
            }
        }
    }
}

/// Files whose indentation is not a nesting habit: prose, and Makefiles (tabs by rule).
fn exempt(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    let ext = base.rsplit_once('.').map_or("", |(_, e)| e);
    base == "Makefile"
        || base == "GNUmakefile"
        || matches!(ext, "mk" | "md" | "markdown" | "rst" | "txt" | "adoc" | "org")
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
                // Alignment past the last level is kept only where the unit is: converted, its
                // width is a guess.
                if rest > 0 && from != to {
                    return None;
                }
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

fn candidates(pairs: &[(usize, &str, &str)], added: &[&str], to: &[Unit]) -> Vec<Model> {
    let mut out = Vec::new();
    if let Some((_, p, f)) = pairs.iter().find(|(_, p, f)| p != f) {
        if let Some(extra) = f.strip_suffix(p) {
            out.push(Model::Prefix(extra.to_string()));
        } else if let Some(less) = p.strip_suffix(f) {
            out.push(Model::Strip(less.to_string()));
        }
    }
    let olds: Vec<&str> = pairs.iter().map(|(_, p, _)| *p).collect();
    let all: Vec<&str> =
        olds.iter().copied().chain(added.iter().filter(|l| !l.trim().is_empty()).map(|l| indent(l))).collect();
    // The patch's unit is read from its old lines, where they are indented; the added lines'
    // own widths (alignment among them) would only blur it.
    let from = if olds.iter().any(|p| !p.is_empty()) { units(&olds) } else { units(&all) };
    for &from in &from {
        for &to in to {
            let Some((_, p, f)) = pairs.first() else { continue };
            let (Some((lp, _)), Some((lf, _))) = (levels(p, from), levels(f, to)) else { continue };
            out.push(Model::Levels { from, to, by: lf as isize - lp as isize });
        }
    }
    out
}

/// The units an indentation may be counted in: tabs, or the spaces every width is a multiple of.
fn units(indents: &[&str]) -> Vec<Unit> {
    let tabs = indents.iter().any(|s| s.contains('\t'));
    if tabs {
        return if indents.iter().all(|s| levels(s, Unit::Tab).is_some()) { vec![Unit::Tab] } else { Vec::new() };
    }
    match indents.iter().map(|s| s.len()).filter(|&w| w > 0).fold(0, gcd) {
        0 => vec![Unit::Tab, Unit::Spaces(4)],
        g => vec![Unit::Spaces(g)],
    }
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
        added_lines("f.txt", &hunk(lines), &text.lines, &text.lines, &mut None)
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
    fn a_file_that_mixes_habits_is_mapped_by_the_lines_the_hunk_matched() {
        // More lines step by 2 spaces (an object literal) than by tabs, but the function the
        // hunk is in is indented with tabs.
        let file = "const o = {\n  a: 1,\n  b: 2,\n  c: 3,\n};\n\nfunction f(x) {\n\tif (x) return;\n\tg();\n}\n";
        let text = Text::decode(file.as_bytes()).unwrap();
        let lines = [
            (Context, "function f(x) {"),
            (Add, "    x += '';"),
            (Context, "    if (x) return;"),
            (Context, "    g();"),
        ];
        let got = added_lines("f.js", &hunk(&lines), &text.lines[6..], &text.lines, &mut None);
        assert_eq!(got, Ok(Some(vec!["\tx += '';".to_string()])));
    }

    #[test]
    fn the_files_habit_comes_before_the_unit_of_the_lines_matched() {
        // One line of context at 8 spaces fits 2 tabs as 2 levels of the file's 4 (its habit)
        // or as 1 level of 8; the habit fits, so 8 spaces a level is not tried.
        let text = Text::decode(b"fn f() {\n    if a {\n        b();\n    }\n}\n").unwrap();
        let lines = [(Context, "\t\tb();"), (Add, "\t\tif c {"), (Add, "\t\t\td();"), (Add, "\t\t}")];
        let got = added_lines("f.rs", &hunk(&lines), &text.lines[2..], &text.lines, &mut None);
        let want = ["        if c {", "            d();", "        }"];
        assert_eq!(got, Ok(Some(want.iter().map(|l| l.to_string()).collect())));
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
    fn one_level_of_context_is_read_by_the_files_own_step() {
        // Context at 2 spaces, file at 4: a shift by 2 would put the deeper line at 6, which
        // the file, indented by 4, does not do; so 2 spaces a level become 4.
        let got =
            run(&[(Context, "  a()"), (Remove, "  b()"), (Add, "  if c:"), (Add, "    d()")], "    a()\n    b()\n");
        assert_eq!(got, Ok(Some(vec!["    if c:".to_string(), "        d()".to_string()])));
        // With no habit to go by, a shift and a change of width disagree on the deeper line.
        let err = run(&[(Context, "  a()"), (Remove, "  b()"), (Add, "  if c:"), (Add, "    d()")], " a()\n b()\n")
            .unwrap_err();
        assert!(err.contains("\"d()\""), "{err}");
        // Converted, alignment past the last whole level has no sure width.
        let err = run(&[(Context, "    a()"), (Remove, "    b()"), (Add, "      c()")], "\ta()\n\tb()\n").unwrap_err();
        assert!(err.contains("\"c()\""), "{err}");
    }

    #[test]
    fn added_lines_under_unindented_context_follow_the_files_habit() {
        let file = Text::decode(b"fn a() {\n    x();\n    if y {\n        z();\n    }\n}\n").unwrap();
        let check = |lines: &[(Line, &str)], name: &str| check_unanchored(name, &hunk(lines), &mut None, &file.lines);
        let two = [(Context, "}"), (Add, "fn b() {"), (Add, "  if c {"), (Add, "    d();"), (Add, "  }"), (Add, "}")];
        assert!(check(&two, "m.rs").unwrap_err().contains("by 2 spaces a level where the file uses 4"));
        assert!(
            check(&[(Context, "}"), (Add, "fn b() {"), (Add, "\tc();")], "m.rs").unwrap_err().contains("with tabs")
        );
        assert_eq!(check(&[(Context, "}"), (Add, "fn b() {"), (Add, "    c();"), (Add, "}")], "m.rs"), Ok(()));
        assert_eq!(check(&[(Context, "}"), (Add, "/**"), (Add, " * doc"), (Add, " */")], "m.rs"), Ok(()));
        assert_eq!(check(&two, "notes.md"), Ok(()));
        // Indented context says how, and is checked by the mapping instead.
        assert_eq!(check(&[(Context, "    x();"), (Add, "  y();")], "m.rs"), Ok(()));
        // A file with no indented line has no habit to go against (Go's tabs are a convention).
        let flat = Text::decode(
            b"package color
",
        )
        .unwrap();
        let doc = [(Context, "package color"), (Add, "/*"), (Add, "    color.Red(\"x\")"), (Add, "*/")];
        assert_eq!(check_unanchored("doc.go", &hunk(&doc), &mut None, &flat.lines), Ok(()));
        let tabbed = Text::decode(
            b"package color

func a() {
	b()
}
",
        )
        .unwrap();
        assert!(check_unanchored("doc.go", &hunk(&doc), &mut None, &tabbed.lines).is_err());
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
