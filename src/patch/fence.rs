//! The fence: every path a patch names must resolve inside its environment's tree — no `..`, no
//! absolute path outside, no symlink that leads out, nothing under `.git/`, and only the
//! `allowed_paths` globs where they are configured.

use std::path::{Component, Path, PathBuf};

use anyhow::{Result, bail};
use regex::Regex;

/// A path glob: `*` and `?` stay within one component, `**` spans any number of them.
#[derive(Debug, Clone)]
pub struct Glob {
    source: String,
    re: Regex,
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob> {
        if pattern.is_empty() || pattern.starts_with('/') {
            bail!("glob {pattern:?} must be a relative path pattern like \"src/**\"");
        }
        let mut re = String::from("^");
        let mut rest = pattern;
        while let Some(c) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("**/") {
                re.push_str("(?:.*/)?");
                rest = after;
            } else if let Some(after) = rest.strip_prefix("**") {
                re.push_str(".*");
                rest = after;
            } else {
                match c {
                    '*' => re.push_str("[^/]*"),
                    '?' => re.push_str("[^/]"),
                    _ => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
                }
                rest = &rest[c.len_utf8()..];
            }
        }
        re.push('$');
        Ok(Glob { source: pattern.to_string(), re: Regex::new(&re)? })
    }

    pub fn matches(&self, path: &str) -> bool {
        self.re.is_match(path)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// A tree and the globs that fence writes inside it.
#[derive(Debug, Clone)]
pub struct Fence {
    /// The tree, canonical (symlinks resolved), so containment checks compare like with like.
    root: PathBuf,
    allowed: Vec<Glob>,
}

impl Fence {
    pub fn new(tree: &Path, allowed_paths: &[String]) -> Result<Fence> {
        let root = tree.canonicalize().map_err(|e| anyhow::anyhow!("could not open tree {}: {e}", tree.display()))?;
        if !root.is_dir() {
            bail!("tree {} is not a directory", tree.display());
        }
        let allowed = allowed_paths.iter().map(|p| Glob::new(p)).collect::<Result<_>>()?;
        Ok(Fence { root, allowed })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Check a path a patch names and return it normalised, relative to the tree (`src/a.rs`).
    /// The error says what is wrong in words a model or operator can act on.
    pub fn check(&self, name: &str) -> Result<String> {
        let rel = self.normalize(name)?;
        self.check_links(&rel)?;
        Ok(rel)
    }

    /// [`Fence::check`] without looking at the disk: the name rules and `allowed_paths` only.
    pub fn normalize(&self, name: &str) -> Result<String> {
        if name.is_empty() {
            bail!("empty path");
        }
        if name.contains('\0') {
            bail!("path {name:?} contains a NUL byte");
        }
        let path = Path::new(name);
        let rel = if path.is_absolute() {
            match path.strip_prefix(&self.root) {
                Ok(rel) => rel,
                Err(_) => bail!("path {name:?} is absolute and outside the tree {}", self.root.display()),
            }
        } else {
            path
        };
        let mut parts = Vec::new();
        for comp in rel.components() {
            match comp {
                Component::Normal(c) => {
                    let c = c.to_str().ok_or_else(|| anyhow::anyhow!("path {name:?} is not UTF-8"))?;
                    if c == ".git" {
                        bail!("path {name:?} is inside .git/, which patches may not touch");
                    }
                    parts.push(c);
                }
                Component::CurDir => {}
                Component::ParentDir => bail!("path {name:?} contains `..`; name files relative to the tree root"),
                Component::RootDir | Component::Prefix(_) => bail!("path {name:?} is not relative to the tree"),
            }
        }
        if parts.is_empty() {
            bail!("path {name:?} names the tree itself, not a file in it");
        }
        let rel = parts.join("/");
        if !self.allowed.is_empty() && !self.allowed.iter().any(|g| g.matches(&rel)) {
            let globs: Vec<_> = self.allowed.iter().map(Glob::as_str).collect();
            bail!("path {rel:?} is outside allowed_paths ({})", globs.join(", "));
        }
        Ok(rel)
    }

    /// The absolute path of a checked relative path.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// No existing component of the path may be a symlink that resolves outside the tree.
    fn check_links(&self, rel: &str) -> Result<()> {
        let mut at = self.root.clone();
        for part in rel.split('/') {
            at.push(part);
            match at.symlink_metadata() {
                Ok(meta) if meta.file_type().is_symlink() => match at.canonicalize() {
                    Ok(target) if target.starts_with(&self.root) => {}
                    Ok(target) => bail!(
                        "path {rel:?} goes through symlink {} which leads outside the tree to {}",
                        at.display(),
                        target.display()
                    ),
                    Err(_) => bail!("path {rel:?} goes through dangling symlink {}", at.display()),
                },
                Ok(_) => {}
                Err(_) => return Ok(()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let g = |p: &str, s: &str| Glob::new(p).unwrap().matches(s);
        assert!(g("src/**", "src/a/b.rs"));
        assert!(g("src/**", "src/a.rs"));
        assert!(!g("src/**", "srcx/a.rs"));
        assert!(g("**/*.md", "README.md"));
        assert!(g("**/*.md", "docs/x/y.md"));
        assert!(!g("*.md", "docs/y.md"));
        assert!(g("a?.txt", "ab.txt"));
        assert!(!g("a.txt", "aXtxt"));
        assert!(Glob::new("/etc/**").is_err());
    }

    #[test]
    fn fence_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("in"), dir.path().join("inlink")).unwrap();
        let fence = Fence::new(dir.path(), &[]).unwrap();
        assert_eq!(fence.check("./src//a.rs").unwrap(), "src/a.rs");
        assert_eq!(fence.check("inlink/x").unwrap(), "inlink/x");
        for bad in ["../x", "a/../../x", "/etc/passwd", ".git/config", "a/.git/HEAD", "out/x", "", "."] {
            assert!(fence.check(bad).is_err(), "{bad:?} should be refused");
        }
        let inside = fence.root().join("a.txt");
        assert_eq!(fence.check(inside.to_str().unwrap()).unwrap(), "a.txt");
        let fenced = Fence::new(dir.path(), &["src/**".into()]).unwrap();
        assert!(fenced.check("src/a.rs").is_ok());
        let err = fenced.check("README.md").unwrap_err().to_string();
        assert!(err.contains("allowed_paths"), "{err}");
    }
}
