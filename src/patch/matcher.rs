//! Finding where a hunk's lines are in a file. Exact first, then progressively looser
//! normalisations (trailing whitespace, all whitespace, Unicode punctuation); at each level the
//! candidates are narrowed by the previous hunk's end and the line-number hint, and equal
//! candidates are never picked between at a guess.

use std::borrow::Cow;

/// How loosely lines were compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Exact,
    TrailingSpace,
    Whitespace,
    Punctuation,
}

impl Level {
    pub(crate) const ALL: [Level; 4] = [Level::Exact, Level::TrailingSpace, Level::Whitespace, Level::Punctuation];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::Exact => "exact",
            Level::TrailingSpace => "fuzzy-trailing-whitespace",
            Level::Whitespace => "fuzzy-whitespace",
            Level::Punctuation => "fuzzy-unicode",
        }
    }

    pub(crate) fn normalize(self, s: &str) -> Cow<'_, str> {
        match self {
            Level::Exact => Cow::Borrowed(s),
            Level::TrailingSpace => Cow::Borrowed(s.trim_end()),
            Level::Whitespace => Cow::Owned(s.split_whitespace().collect::<Vec<_>>().join(" ")),
            Level::Punctuation => {
                let plain: String = s.chars().map(plain_punctuation).collect();
                Cow::Owned(plain.split_whitespace().collect::<Vec<_>>().join(" "))
            }
        }
    }
}

/// The ASCII a model tends to write for typographic punctuation.
fn plain_punctuation(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' => '"',
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        '\u{00A0}' | '\u{2007}' | '\u{202F}' | '\u{2009}' | '\u{200A}' => ' ',
        c => c,
    }
}

/// A file's lines, with each looser form computed once, on first use.
pub(crate) struct Haystack<'a> {
    lines: Vec<&'a str>,
    /// The lines at each level, indexed by `Level as usize`; exact is borrowed.
    levels: [Option<Vec<Cow<'a, str>>>; 4],
}

impl<'a> Haystack<'a> {
    pub(crate) fn new(lines: Vec<&'a str>) -> Haystack<'a> {
        let exact = lines.iter().map(|l| Cow::Borrowed(*l)).collect();
        Haystack { lines, levels: [Some(exact), None, None, None] }
    }

    pub(crate) fn len(&self) -> usize {
        self.lines.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    fn at(&mut self, level: Level) -> &[Cow<'a, str>] {
        let lines = &self.lines;
        self.levels[level as usize]
            .get_or_insert_with(|| lines.iter().map(|l| Cow::Owned(level.normalize(l).into_owned())).collect())
    }

    /// Every start at which `pattern` matches at `level`.
    pub(crate) fn find_all(&mut self, pattern: &[&str], level: Level) -> Vec<usize> {
        let pat: Vec<Cow<str>> = pattern.iter().map(|p| level.normalize(p)).collect();
        let hay = self.at(level);
        if pat.is_empty() || pat.len() > hay.len() {
            return Vec::new();
        }
        (0..=hay.len() - pat.len())
            .filter(|&i| pat.iter().zip(&hay[i..]).all(|(p, h)| p.as_ref() == h.as_ref()))
            .collect()
    }

    /// Whether `pattern` matches at `start` at any level up to `loosest`.
    pub(crate) fn matches_at(&mut self, pattern: &[&str], start: usize, loosest: Level) -> bool {
        if start + pattern.len() > self.len() {
            return false;
        }
        Level::ALL.iter().filter(|l| **l <= loosest).any(|&level| {
            let hay = self.at(level);
            pattern.iter().zip(&hay[start..]).all(|(p, h)| level.normalize(p).as_ref() == h.as_ref())
        })
    }

    /// Whether any line in `range` reads like one of `lines`, even slightly changed.
    pub(crate) fn holds_near(&mut self, lines: &[&str], range: std::ops::Range<usize>) -> bool {
        if lines.is_empty() || range.is_empty() {
            return false;
        }
        let pat: Vec<Cow<str>> = lines.iter().map(|l| Level::Punctuation.normalize(l)).collect();
        let hay = self.at(Level::Punctuation);
        hay[range].iter().any(|h| pat.iter().any(|p| similar(p, h)))
    }

    /// The window of `pattern.len()` lines that shares the most lines with it (loosely), nearest
    /// the hint on a tie; `None` when no window shares a line.
    pub(crate) fn closest(&mut self, pattern: &[&str], hint: Option<usize>) -> Option<Closest> {
        const SHOWN: usize = 20;
        if pattern.is_empty() || self.is_empty() || pattern.len().saturating_mul(self.len()) > 50_000_000 {
            return None;
        }
        let level = Level::Punctuation;
        let pat: Vec<Cow<str>> = pattern.iter().map(|p| level.normalize(p)).collect();
        let hay = self.at(level);
        let width = pat.len().min(hay.len());
        let mut best: Option<(usize, usize)> = None;
        for start in 0..=hay.len() - width {
            let score = (0..width).filter(|&i| pat[i].as_ref() == hay[start + i].as_ref()).count();
            let better = match best {
                None => score > 0,
                Some((s, at)) => score > s || (score == s && hint.is_some_and(|h| start.abs_diff(h) < at.abs_diff(h))),
            };
            if better {
                best = Some((score, start));
            }
        }
        let (_, start) = best?;
        let differs = (0..width).find(|&i| pat[i].as_ref() != hay[start + i].as_ref());
        Some(Closest {
            lines: (start..start + width.min(SHOWN)).map(|i| format!("{:>4} | {}", i + 1, self.lines[i])).collect(),
            differs: differs.map(|i| (i, start + i + 1, self.lines[start + i].to_string())),
        })
    }
}

/// Two normalised lines are alike: equal, or (4 characters or more) sharing a start and an end
/// that make up two thirds of the longer one (`y = 2` and `y = 3`).
fn similar(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (short, long) = (a.len().min(b.len()), a.len().max(b.len()));
    if short < 4 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count();
    (prefix + suffix).min(short) * 3 >= long * 2
}

/// The best-matching window of a file for lines that were not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Closest {
    /// The window, each line as `NUMBER | text`.
    pub lines: Vec<String>,
    /// The first line that differs: its index in the pattern, its line number in the file and
    /// what the file holds there.
    pub differs: Option<(usize, usize, String)>,
}

/// What is known of where a hunk should go.
#[derive(Debug, Clone, Default)]
pub(crate) struct Where<'c> {
    /// 0-based line the patch names (adjusted by the drift of earlier hunks).
    pub hint: Option<usize>,
    /// The previous hunk's end: hunks are searched after it first.
    pub cursor: usize,
    /// The match must end at the end of the file.
    pub at_eof: bool,
    /// Line ranges earlier hunks already claimed.
    pub claimed: &'c [(usize, usize)],
    /// The file's final newline is not what the hunk leaves, so its new side at the end of the
    /// file is not the hunk already applied.
    pub newline_differs: bool,
    /// Where else the new side must stand to count as the hunk already applied.
    pub already: Already<'c>,
}

/// What makes a match of a hunk's new side the hunk already applied, beyond the lines being
/// there: it stands where the hunk's anchoring puts it, and the lines it removes are not beside
/// it (where they would be, were it not applied).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Already<'c> {
    /// The new side must start at the top of the file (less context before than after).
    pub at_start: bool,
    /// The new side must end at the end of the file (less context after than before).
    pub at_end: bool,
    /// Removed lines that, not applied, would stand just before the new side (it has no context
    /// before its changes): none of them may be there, not even slightly changed.
    pub gone_before: &'c [&'c str],
    /// The same just after the new side (no context after its changes).
    pub gone_after: &'c [&'c str],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub start: usize,
    /// Lines of the file the match covers.
    pub len: usize,
    pub level: Level,
    /// The new side matched, not the old: the hunk is already in the file.
    pub already: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Miss {
    NotFound,
    /// 0-based starts of the equally good candidates.
    Ambiguous(Vec<usize>),
    /// The new side is in the file (0-based start), but not where the hunk's anchoring puts it
    /// or with the removed lines still beside it: neither applied nor applicable.
    Misplaced(usize),
}

/// Locate a hunk given its old and new lines; `removes`: the hunk takes lines out (else it only
/// adds, and is looked for as already applied alongside). The hunk's line number is tried
/// first, old side before new, at each level; then the whole file. A hunk whose change a level
/// cannot see (whitespace only, at the whitespace levels) is not looked for at that level: there
/// applied and not applied look the same. An old match the new side explains (context above or
/// below added lines lies inside them once applied) does not count, and a new side found where
/// `at.already` says it cannot be the hunk applied makes the hunk [`Miss::Misplaced`].
pub(crate) fn locate(hay: &mut Haystack, old: &[&str], new: &[&str], removes: bool, at: &Where) -> Result<Found, Miss> {
    let new = if new == old { &[][..] } else { new };
    let inner: Vec<usize> = if new.is_empty() {
        Vec::new()
    } else {
        (0..=new.len().saturating_sub(old.len())).filter(|&k| new[k..].starts_with(old)).collect()
    };
    let visible = |level: Level| {
        old.len() != new.len() || old.iter().zip(new).any(|(o, n)| level.normalize(o) != level.normalize(n))
    };
    let explained = |hay: &mut Haystack, p: usize, level: Level| {
        inner.iter().any(|&k| p >= k && matches(hay, new, p - k, level, at))
    };
    let found = |start: usize, level: Level, already: bool| Found {
        start,
        len: if already { new.len() } else { old.len() },
        level,
        already,
    };
    if let Some(h) = at.hint {
        for level in Level::ALL {
            if visible(level) && matches(hay, old, h, level, at) && !explained(hay, h, level) {
                return Ok(found(h, level, false));
            }
        }
        for level in Level::ALL {
            if matches(hay, new, h, level, at) && settled(hay, new.len(), h, at) {
                return Ok(found(h, level, true));
            }
        }
    }
    let tag = |v: &[usize], already: bool| v.iter().map(|&p| (p, already)).collect::<Vec<_>>();
    let mut misplaced = None;
    // The new side's matches at a level: all of them, and those that are the hunk applied.
    let mut news = |hay: &mut Haystack, level: Level| {
        let all = candidates(hay, new, level, at);
        let ok: Vec<usize> = all.iter().copied().filter(|&q| settled(hay, new.len(), q, at)).collect();
        if ok.is_empty() && misplaced.is_none() {
            misplaced = all.first().copied();
        }
        (all, ok)
    };
    if removes {
        // Removed lines still in the file say the hunk is to apply, wherever they are found.
        for level in Level::ALL.into_iter().filter(|&l| visible(l)) {
            if let Some(choice) = choose(&tag(&candidates(hay, old, level, at), false), at) {
                return choice.map(|(p, _)| found(p, level, false));
            }
        }
        for level in Level::ALL {
            let (_, ok) = news(hay, level);
            if let Some(choice) = choose(&tag(&ok, true), at) {
                return choice.map(|(p, _)| found(p, level, true));
            }
        }
    } else {
        // Only additions: where both sides are found, both are candidates.
        for level in Level::ALL {
            let (all, ok) = news(hay, level);
            let olds: Vec<usize> = candidates(hay, old, level, at)
                .into_iter()
                .filter(|&p| !all.iter().any(|&q| inner.iter().any(|&k| q + k == p)))
                .collect();
            if let Some(choice) = choose(&[tag(&olds, false), tag(&ok, true)].concat(), at) {
                return choice.map(|(p, already)| found(p, level, already));
            }
        }
    }
    Err(misplaced.map_or(Miss::NotFound, Miss::Misplaced))
}

/// Whether the hunk's new side, found at `q` (`n` lines), is the hunk already applied.
fn settled(hay: &mut Haystack, n: usize, q: usize, at: &Where) -> bool {
    let len = hay.len();
    let a = &at.already;
    let end = q + n;
    let misplaced = (at.newline_differs && end == len) || (a.at_start && q != 0) || (a.at_end && end != len);
    !misplaced
        && !hay.holds_near(a.gone_after, end..len.min(end + a.gone_after.len()))
        && !hay.holds_near(a.gone_before, q.saturating_sub(a.gone_before.len())..q)
}

/// Whether `lines` match at `p` at `level` (or stricter), within the constraints of `at`.
fn matches(hay: &mut Haystack, lines: &[&str], p: usize, level: Level, at: &Where) -> bool {
    !lines.is_empty() && fits(hay.len(), lines.len(), p, at) && hay.matches_at(lines, p, level)
}

/// Every start where `lines` match at `level`, within the constraints of `at`.
fn candidates(hay: &mut Haystack, lines: &[&str], level: Level, at: &Where) -> Vec<usize> {
    if lines.is_empty() {
        return Vec::new();
    }
    let len = hay.len();
    hay.find_all(lines, level).into_iter().filter(|&p| fits(len, lines.len(), p, at)).collect()
}

/// Whether `n` lines at `p` in a file of `len` lines meet the end-of-file and claim constraints.
fn fits(len: usize, n: usize, p: usize, at: &Where) -> bool {
    p + n <= len && (!at.at_eof || p + n == len) && !at.claimed.iter().any(|&(s, e)| p < e && s < p + n)
}

/// How far from its line number a hunk may be found when its lines match in several places and
/// the number is what picks one: further off, the number is as likely wrong as the file moved.
const NEAR: usize = 3;

/// After the cursor if anything is there; then the only candidate, or the one the line number
/// points at: exactly, or within [`NEAR`] lines when no other candidate is.
fn choose(candidates: &[(usize, bool)], at: &Where) -> Option<Result<(usize, bool), Miss>> {
    if candidates.is_empty() {
        return None;
    }
    let after: Vec<(usize, bool)> = candidates.iter().copied().filter(|&(p, _)| p >= at.cursor).collect();
    let pool = if after.is_empty() { candidates.to_vec() } else { after };
    let starts = |v: &[(usize, bool)]| v.iter().map(|&(p, _)| p).collect::<Vec<_>>();
    if let [only] = pool[..] {
        return Some(Ok(only));
    }
    let Some(hint) = at.hint else { return Some(Err(Miss::Ambiguous(starts(&pool)))) };
    let mut by_distance: Vec<(usize, (usize, bool))> = pool.iter().map(|&c| (c.0.abs_diff(hint), c)).collect();
    by_distance.sort_by_key(|&(d, (p, _))| (d, p));
    let (d1, best) = by_distance[0];
    let d2 = by_distance[1].0;
    Some(if d1 == 0 || (d1 <= NEAR && d2 > NEAR) {
        Ok(best)
    } else {
        let near: Vec<usize> = by_distance.iter().filter(|(d, _)| *d <= d2).map(|(_, (p, _))| *p).collect();
        Err(Miss::Ambiguous(near))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hay(text: &str) -> Haystack<'_> {
        Haystack::new(text.lines().collect())
    }

    #[test]
    fn levels_loosen_in_order() {
        let mut h = hay("fn a() {  \n\t let x = “q”;\n}");
        assert_eq!(h.find_all(&["fn a() {"], Level::Exact), Vec::<usize>::new());
        assert_eq!(h.find_all(&["fn a() {"], Level::TrailingSpace), vec![0]);
        assert_eq!(h.find_all(&["let  x = “q”;"], Level::Whitespace), vec![1]);
        assert_eq!(h.find_all(&["let x = \"q\";"], Level::Whitespace), Vec::<usize>::new());
        assert_eq!(h.find_all(&["let x = \"q\";"], Level::Punctuation), vec![1]);
    }

    #[test]
    fn nearest_to_hint_wins_and_ties_are_refused() {
        let mut h = hay("x\na\nx\nb\nx\n");
        let at = |hint| Where { hint, ..Where::default() };
        assert_eq!(locate(&mut h, &["x"], &["y"], true, &at(Some(2))).unwrap().start, 2);
        assert_eq!(locate(&mut h, &["x"], &["y"], true, &at(Some(3))), Err(Miss::Ambiguous(vec![2, 4])));
        assert_eq!(locate(&mut h, &["x"], &["y"], true, &at(Some(0))).unwrap().start, 0);
        assert_eq!(locate(&mut h, &["x"], &["y"], true, &at(Some(1))), Err(Miss::Ambiguous(vec![0, 2])));
        assert_eq!(locate(&mut h, &["x"], &["y"], true, &at(None)), Err(Miss::Ambiguous(vec![0, 2, 4])));
    }

    #[test]
    fn a_line_number_far_from_every_candidate_picks_none() {
        let text = format!("x\n{}x\n", "f\n".repeat(20));
        let mut h = hay(&text);
        let at = |hint| Where { hint: Some(hint), ..Where::default() };
        assert_eq!(locate(&mut h, &["x"], &["y"], true, &at(10)), Err(Miss::Ambiguous(vec![0, 21])));
        assert_eq!(locate(&mut h, &["x"], &["y"], true, &at(3)).unwrap().start, 0);
        assert_eq!(locate(&mut h, &["x"], &["y"], true, &at(18)).unwrap().start, 21);
    }

    #[test]
    fn a_new_side_where_it_cannot_be_the_hunk_applied_is_misplaced() {
        // Context before only: the new side must end the file.
        let mut h = hay("a\nb\nc\n");
        let at = Where { already: Already { at_end: true, ..Already::default() }, ..Where::default() };
        assert_eq!(locate(&mut h, &["a", "x"], &["a"], true, &at), Err(Miss::Misplaced(0)));
        let mut h = hay("c\na\n");
        assert!(locate(&mut h, &["a", "x"], &["a"], true, &at).unwrap().already);
        // A removed line still beside it, slightly changed.
        let mut h = hay("a\ny = 3\n");
        let gone = ["y = 2"];
        let at = Where { already: Already { gone_after: &gone, ..Already::default() }, ..Where::default() };
        assert_eq!(locate(&mut h, &["a", "y = 2"], &["a"], true, &at), Err(Miss::Misplaced(0)));
    }

    #[test]
    fn cursor_and_claims_narrow_the_search() {
        let mut h = hay("x\na\nx\n");
        let claimed = [(0, 1)];
        let at = Where { cursor: 1, claimed: &claimed, ..Where::default() };
        assert_eq!(locate(&mut h, &["x"], &["y"], true, &at).unwrap().start, 2);
    }

    #[test]
    fn pure_addition_already_present_is_found_as_such() {
        let mut h = hay("a\nnew\nb\n");
        let found = locate(&mut h, &["a", "b"], &["a", "new", "b"], false, &Where::default()).unwrap();
        assert!(found.already);
        let mut h = hay("a\nnew\n");
        assert!(locate(&mut h, &["a"], &["a", "new"], false, &Where::default()).unwrap().already);
    }

    #[test]
    fn closest_shows_best_window() {
        let mut h = hay("one\ntwo\nthree\nfour\n");
        let c = h.closest(&["two", "THREE"], None).unwrap();
        assert_eq!(c.lines, vec!["   2 | two", "   3 | three"]);
        assert_eq!(c.differs, Some((1, 3, "three".to_string())));
        assert!(h.closest(&["zzz"], None).is_none());
    }
}
