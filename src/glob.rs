//! Path globs for `allowed_paths`, on the `globset` crate (ripgrep's): `*` and `?` stay within one
//! path component, `**` spans any number of them, `{a,b}` is either, `[ab]` one of a set. A leaf
//! module: the fence and the config check both build globs here, and it depends on nothing else
//! in the crate.

use anyhow::{Context, Result, bail};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// A set of globs compiled once, matched against relative paths like `src/a.rs`.
#[derive(Debug, Clone)]
pub(crate) struct Globs {
    set: GlobSet,
    sources: Vec<String>,
}

impl Globs {
    pub(crate) fn new(patterns: &[String]) -> Result<Globs> {
        let mut set = GlobSetBuilder::new();
        for pattern in patterns {
            if pattern.is_empty() || pattern.starts_with('/') {
                bail!("glob {pattern:?} must be a relative path pattern like \"src/**\"");
            }
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .with_context(|| format!("invalid glob {pattern:?}"))?;
            set.add(glob);
        }
        Ok(Globs { set: set.build().context("could not compile the globs")?, sources: patterns.to_vec() })
    }

    /// No globs at all (which `allowed_paths` reads as the whole tree).
    pub(crate) fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        self.set.is_match(path)
    }

    /// The patterns as written, for messages.
    pub(crate) fn sources(&self) -> &[String] {
        &self.sources
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(pattern: &str, path: &str) -> bool {
        Globs::new(&[pattern.to_string()]).unwrap().matches(path)
    }

    #[test]
    fn stars_stay_within_a_component_and_double_stars_span_them() {
        assert!(g("src/**", "src/a/b.rs"));
        assert!(g("src/**", "src/a.rs"));
        assert!(!g("src/**", "srcx/a.rs"));
        assert!(g("**/*.md", "README.md"));
        assert!(g("**/*.md", "docs/x/y.md"));
        assert!(!g("*.md", "docs/y.md"));
        assert!(g("a?.txt", "ab.txt"));
        assert!(!g("a?.txt", "a/.txt"));
        assert!(!g("a.txt", "aXtxt"));
    }

    #[test]
    fn alternatives_and_classes_are_not_literal() {
        assert!(g("src/{api,web}/**", "src/api/x.rs"));
        assert!(g("src/{api,web}/**", "src/web/y/z.rs"));
        assert!(!g("src/{api,web}/**", "src/cli/x.rs"));
        assert!(!g("src/{api,web}/**", "src/{api,web}/x.rs"));
        assert!(g("[ab].txt", "a.txt") && g("[ab].txt", "b.txt"));
        assert!(!g("[ab].txt", "c.txt"));
    }

    #[test]
    fn bad_patterns_are_refused_with_the_pattern() {
        assert!(Globs::new(&["/etc/**".into()]).is_err());
        let err = format!("{:#}", Globs::new(&["src/{a,b".into()]).unwrap_err());
        assert!(err.contains("invalid glob \"src/{a,b\""), "{err}");
    }
}
