//! Git-aware environments (`git = "commit"`). Before a patch is applied: the tree is a work tree,
//! the chosen branch is checked out with no merge or rebase under way, and (with
//! `git_dirty = "refuse"`) none of the files it touches has uncommitted changes. After its checks
//! pass: one commit of exactly its files, other work in the tree left as it was, staged or not.
//! A revert is committed the same way.
//!
//! This is the operator's own `git` (their hooks, config and signing apply), run in the tree with
//! every `GIT_*` variable unset (a `GIT_DIR` inherited from a hook must not redirect it), under the
//! environment's `validate_timeout`, with literal pathspecs after `--`, so no path is read as an
//! option or a glob. The trailers (`Runner-Patch`, `Runner-Env`) are also how recovery tells a
//! commit that landed before a crash from one that did not.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::config::{EnvConfig, GitDirty, GitMode};
use crate::store::results::PatchResult;

/// Output kept from one git command: enough for a hook's complaint.
const OUTPUT_LIMIT: usize = 64 << 10;
/// Subjects longer than this are cut (git's own convention).
const SUBJECT_CHARS: usize = 72;
/// How far back recovery looks for a patch's commit (the operator may have committed since).
const RECOVERY_DEPTH: &str = "-50";

/// `git` in one environment's tree; `None` where the environment does not use git.
pub(super) struct Git<'a> {
    tree: &'a Path,
    cfg: &'a EnvConfig,
}

/// How one git command ended.
struct Run {
    ok: bool,
    output: String,
}

impl<'a> Git<'a> {
    pub(super) fn of(cfg: &'a EnvConfig) -> Option<Git<'a>> {
        (cfg.git == GitMode::Commit).then_some(Git { tree: &cfg.tree, cfg })
    }

    fn run<S: AsRef<OsStr>>(&self, args: &[S], paths: &[&str]) -> Result<Run> {
        let mut cmd = Command::new("git");
        cmd.current_dir(self.tree).args(["--literal-pathspecs", "-c", "core.quotepath=off"]).args(args);
        if !paths.is_empty() {
            cmd.arg("--").args(paths);
        }
        for (name, _) in std::env::vars_os() {
            if name.to_str().is_some_and(|n| n.starts_with("GIT_")) {
                cmd.env_remove(name);
            }
        }
        let timeout: Duration = self.cfg.validate_timeout.std();
        let done = crate::subprocess::run(cmd, timeout, OUTPUT_LIMIT).context("could not run git")?;
        let ok = done.status.is_some_and(|s| s.success());
        let output = match done.status {
            None => format!("git timed out after {} ms and was killed\n{}", timeout.as_millis(), done.output),
            Some(_) => done.output,
        };
        Ok(Run { ok, output })
    }

    /// Why this patch may not be applied here now, or `None`. `paths`: every file it touches.
    pub(super) fn refuse(&self, paths: &[&str]) -> Result<Option<String>> {
        let inside = self.run(&["rev-parse", "--is-inside-work-tree"], &[])?;
        if !inside.ok || inside.output.trim() != "true" {
            return Ok(Some(format!(
                "git = \"commit\" but {} is not a git work tree: run `git init` there, or set git = \"off\"",
                self.tree.display()
            )));
        }
        if let Some(op) = self.operation_in_progress()? {
            return Ok(Some(format!("a {op} is in progress in the tree's git repository: finish or abort it first")));
        }
        if let Some(want) = &self.cfg.git_branch {
            let head = self.run(&["symbolic-ref", "--quiet", "--short", "HEAD"], &[])?;
            let on = head.output.trim();
            if !head.ok {
                return Ok(Some(format!("git_branch is {want:?} but HEAD is detached: check out {want}")));
            }
            if on != want {
                return Ok(Some(format!("git_branch is {want:?} but {on:?} is checked out: check out {want}")));
            }
        }
        if self.cfg.git_dirty == GitDirty::Refuse {
            let dirty = self.dirty(paths)?;
            if !dirty.is_empty() {
                return Ok(Some(format!(
                    "{} uncommitted changes in git; commit or stash them first (or set git_dirty = \"allow\")",
                    match dirty.as_slice() {
                        [one] => format!("{one} has"),
                        many => format!("{} have", many.join(", ")),
                    }
                )));
            }
        }
        Ok(None)
    }

    /// A merge, rebase, cherry-pick or revert git has not finished.
    fn operation_in_progress(&self) -> Result<Option<&'static str>> {
        const MARKERS: [(&str, &str); 5] = [
            ("MERGE_HEAD", "merge"),
            ("rebase-merge", "rebase"),
            ("rebase-apply", "rebase"),
            ("CHERRY_PICK_HEAD", "cherry-pick"),
            ("REVERT_HEAD", "revert"),
        ];
        let mut args = vec!["rev-parse"];
        for (marker, _) in MARKERS {
            args.extend(["--git-path", marker]);
        }
        let found = self.run(&args, &[])?;
        if !found.ok {
            anyhow::bail!("could not locate the git directory: {}", found.output.trim());
        }
        Ok(found.output.lines().zip(MARKERS).find(|(path, _)| self.tree.join(path).exists()).map(|(_, (_, op))| op))
    }

    /// The files among `paths` with changes git has not committed (staged or not, or untracked).
    fn dirty(&self, paths: &[&str]) -> Result<Vec<String>> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let status = self.run(&["status", "--porcelain=v1", "-z", "--untracked-files=all"], paths)?;
        if !status.ok {
            anyhow::bail!("could not read git status: {}", status.output.trim());
        }
        Ok(porcelain_paths(&status.output))
    }

    /// Commit exactly `paths` with `message`; the commit's id, or git's complaint.
    fn commit(&self, paths: &[&str], message: &[String]) -> Result<Result<String, String>> {
        let add = self.run(&["add", "--all"], paths)?;
        if !add.ok {
            return Ok(Err(add.output));
        }
        let author = format!("--author={}", self.cfg.git_author);
        let mut args: Vec<&str> = vec!["commit", "--only", "--quiet", &author];
        for paragraph in message {
            args.extend(["-m", paragraph]);
        }
        let commit = self.run(&args, paths)?;
        if !commit.ok {
            // Unstage what `add` staged: the files are about to be restored, and the index must
            // say what it said before (with git_dirty = "refuse", these paths matched HEAD).
            let reset = self.run(&["reset", "--quiet"], paths)?;
            if !reset.ok {
                anyhow::bail!("could not unstage the patch's files after a failed commit: {}", reset.output.trim());
            }
            return Ok(Err(commit.output));
        }
        let head = self.run(&["rev-parse", "HEAD"], &[])?;
        if !head.ok {
            anyhow::bail!("could not read the commit just made: {}", head.output.trim());
        }
        Ok(Ok(head.output.trim().to_string()))
    }

    /// Commit an applied patch: its description as the message, its files, its trailers.
    pub(super) fn commit_patch(&self, env: &str, result: &PatchResult) -> Result<Result<String, String>> {
        let subject = subject(result);
        let author = result.author.as_deref().unwrap_or("unknown");
        let message = vec![
            cut(&subject, SUBJECT_CHARS),
            file_list(result),
            format!("Runner-Patch: {}\nRunner-Env: {env}\nRunner-Author: {}", result.id, one_line(author)),
        ];
        self.commit(&touched(result), &message)
    }

    /// Commit a revert of a committed patch: `Revert "<subject>"` and `Runner-Reverts`.
    pub(super) fn commit_revert(
        &self,
        env: &str,
        result: &PatchResult,
        paths: &[&str],
    ) -> Result<Result<String, String>> {
        let subject = subject(result);
        let mut body = format!("This reverts runner patch {}", result.id);
        if let Some(commit) = &result.commit {
            body.push_str(&format!(", commit {commit}"));
        }
        body.push('.');
        let message = vec![
            cut(&format!("Revert \"{}\"", subject), SUBJECT_CHARS),
            body,
            format!("Runner-Reverts: {}\nRunner-Env: {env}", result.id),
        ];
        self.commit(paths, &message)
    }

    /// The recent commit whose trailers say it records `key: id` in this environment: how
    /// recovery learns that a run died after its commit landed.
    pub(super) fn find_commit(&self, env: &str, key: &str, id: &str) -> Result<Option<String>> {
        let format = format!(
            "--format=%H%x1f%(trailers:key={key},valueonly,separator=%x1f)%x1f%(trailers:key=Runner-Env,valueonly,separator=%x1f)%x1e"
        );
        let log = self.run(&["log", RECOVERY_DEPTH, &format], &[])?;
        if !log.ok {
            return Ok(None); // no commits yet
        }
        Ok(log.output.split('\x1e').find_map(|record| {
            let fields: Vec<&str> = record.trim_matches('\n').split('\x1f').map(str::trim).collect();
            let (hash, rest) = fields.split_first()?;
            (rest.contains(&id) && rest.contains(&env)).then(|| hash.to_string())
        }))
    }
}

/// What keeps a `git = "commit"` environment from committing now, one line each (for `config`
/// and `health-check`): a tree that is not a work tree, a branch that is not checked out.
pub(crate) fn problems(settings: &crate::config::Settings) -> Vec<String> {
    let mut out = Vec::new();
    for (name, cfg) in &settings.config.env {
        match Git::of(cfg).map(|git| git.refuse(&[])) {
            Some(Ok(Some(reason))) => out.push(format!("env.{name}: {reason}")),
            Some(Err(err)) => out.push(format!("env.{name}: {err:#}")),
            _ => {}
        }
    }
    out
}

/// The patch's commit subject, before cutting: its description's first line.
fn subject(result: &PatchResult) -> String {
    match result.description.as_deref().and_then(|d| d.lines().find(|l| !l.trim().is_empty())) {
        Some(line) => line.trim().to_string(),
        None => format!("Apply runner patch {}", result.id),
    }
}

/// Every path a result touches, a move's source included.
pub(super) fn touched(result: &PatchResult) -> Vec<&str> {
    let mut paths: Vec<&str> = Vec::new();
    for f in &result.files {
        paths.extend(f.from.as_deref());
        paths.push(&f.path);
    }
    paths.sort_unstable();
    paths.dedup();
    paths
}

/// The paths of `git status --porcelain=v1 -z` output (a rename's source is its own record).
fn porcelain_paths(out: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut records = out.split('\0').filter(|r| !r.is_empty());
    while let Some(record) = records.next() {
        let (code, path) = record.split_at_checked(3).unwrap_or(("", record));
        paths.push(path.to_string());
        if code.starts_with(['R', 'C']) {
            paths.extend(records.next().map(str::to_string));
        }
    }
    paths
}

fn file_list(result: &PatchResult) -> String {
    let lines: Vec<String> = result
        .files
        .iter()
        .map(|f| match &f.from {
            Some(from) => format!("{} {from} -> {} (+{} -{})", f.action, f.path, f.added, f.removed),
            None => format!("{} {} (+{} -{})", f.action, f.path, f.added, f.removed),
        })
        .collect();
    lines.join("\n")
}

/// At most `max` characters, an ellipsis marking a cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max - 1).collect();
    format!("{}…", kept.trim_end())
}

/// A trailer value is one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_records_name_every_path() {
        let out = " M src/a.rs\0?? new file.txt\0R  to.rs\0from.rs\0";
        assert_eq!(porcelain_paths(out), ["src/a.rs", "new file.txt", "to.rs", "from.rs"]);
        assert!(porcelain_paths("").is_empty());
    }

    #[test]
    fn subjects_are_cut_to_72_characters() {
        assert_eq!(cut("short", 72), "short");
        let long = "é".repeat(80);
        let cut = cut(&long, 72);
        assert_eq!(cut.chars().count(), 72);
        assert!(cut.ends_with('…'));
    }
}
