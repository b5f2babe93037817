//! Queue mode: under the environment's lock, recover what a dead run left, then claim the waiting
//! patches oldest first and take each through plan → back up → apply → validate → (restore) →
//! settle. The mode decides which patches wait: `auto` takes pending and approved ones, `manual`
//! (or `require_approval`) only approved ones, `paused` and `lockdown` none.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;

use super::git::{self, Git};
use super::prepare::{Prepared, prepare};
use super::{Env, JOB, callback, record, recover};
use crate::config::Settings;
use crate::patch::backup::{self, sha256_hex};
use crate::patch::plan::Plan;
use crate::patch::{journal, validate};
use crate::store::events::{self, Event};
use crate::store::mode::{self, Mode};
use crate::store::queue::{self, Entry, State};
use crate::store::results::{Outcome, PatchResult};
use crate::store::{Home, fs::sync_dir, heartbeat, lock};

/// One patch's fate, as a queue run reports it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PatchReport {
    pub id: String,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The files it changes (or would, or did before it was rolled back).
    pub files: Vec<String>,
}

impl From<&PatchResult> for PatchReport {
    fn from(r: &PatchResult) -> Self {
        PatchReport {
            id: r.id.clone(),
            outcome: r.outcome,
            reason: r.reason.clone(),
            files: r.files.iter().map(|f| f.path.clone()).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct QueueReport {
    pub env: String,
    pub mode: Mode,
    /// `--check`: the outcomes say what would happen; nothing was written.
    pub check: bool,
    /// Patches a dead run left half-applied: rolled back by this run, or settled as applied
    /// where their git commit had landed.
    pub recovered: Vec<PatchReport>,
    pub patches: Vec<PatchReport>,
    /// Patches still waiting: for approval, or for the mode to let them through.
    pub waiting: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl QueueReport {
    /// Every patch processed applied (or already was).
    pub(crate) fn ok(&self) -> bool {
        self.patches.iter().all(|p| matches!(p.outcome, Outcome::Applied | Outcome::AlreadyApplied))
    }
}

/// Process every waiting patch the mode lets through.
pub(crate) fn process_queue(
    settings: &Settings,
    home: &Home,
    env: &str,
    wait: bool,
    actor: &str,
) -> Result<QueueReport> {
    let env = Env::open(settings, home, env)?;
    let _lock = lock::acquire(home, JOB, Some(env.name), wait)?;
    run(&env, None, actor)
}

/// Queue one patch file (any format; a non-JSON patch is wrapped in an envelope) and process it
/// as the queue would. Queuing the same file again is harmless.
pub(crate) fn process_file(
    settings: &Settings,
    home: &Home,
    env: &str,
    bytes: &[u8],
    wait: bool,
    actor: &str,
) -> Result<QueueReport> {
    let env = Env::open(settings, home, env)?;
    let _lock = lock::acquire(home, JOB, Some(env.name), wait)?;
    let (id, stored) = envelope(bytes)?;
    match queue::find(home, env.name, &id)? {
        Some(e) if matches!(e.state, State::Pending | State::Approved) => {
            let queued = std::fs::read(&e.path).with_context(|| format!("could not read {}", e.path.display()))?;
            if queued != stored {
                bail!("a different patch with id {id} is already {}; send this one under another id", e.state);
            }
        }
        Some(e) => bail!(
            "patch {id} is already {} (see {}); `runner retry {id}` queues a failed one again",
            e.state,
            home.result_file(env.name, &id)?.display()
        ),
        None => {
            queue::enqueue(home, env.name, &id, State::Pending, &stored)?;
            events::append(home, &Event::new(actor, "patch.queued").env(env.name).id(&id).with("source", "file"))?;
        }
    }
    run(&env, Some(&id), actor)
}

/// `--check` over the queue: plan each patch the mode would take, write nothing.
pub(crate) fn check_queue(settings: &Settings, home: &Home, env: &str) -> Result<QueueReport> {
    let env = Env::open(settings, home, env)?;
    let mode = mode::read(home)?;
    let (states, note) = eligible(mode, env.cfg.require_approval);
    let mut report = empty_report(&env, mode, true, note);
    for entry in waiting(&env, &states)? {
        let bytes = std::fs::read(&entry.path).with_context(|| format!("could not read {}", entry.path.display()))?;
        report.patches.push(check_bytes(&env, &entry.id, &bytes)?);
    }
    report.waiting = left_waiting(&env, &states)?;
    Ok(report)
}

/// `--check FILE`: what queueing and processing this file would do, writing nothing.
pub(crate) fn check_file(settings: &Settings, home: &Home, env: &str, bytes: &[u8]) -> Result<QueueReport> {
    let env = Env::open(settings, home, env)?;
    let (id, stored) = envelope(bytes)?;
    let mut report = empty_report(&env, mode::read(home)?, true, None);
    report.patches.push(check_bytes(&env, &id, &stored)?);
    Ok(report)
}

fn check_bytes(env: &Env, id: &str, bytes: &[u8]) -> Result<PatchReport> {
    let (outcome, reason, files) = match prepare(env.cfg, &env.fence, bytes) {
        Err(reason) => (Outcome::Refused, Some(reason), Vec::new()),
        Ok(p) => {
            let files = p.plan.files.iter().map(|f| f.path.clone()).collect();
            match refuse(env, &p) {
                Some(reason) => (Outcome::Refused, Some(reason), files),
                None if p.plan.is_noop() => (Outcome::AlreadyApplied, None, files),
                None => (Outcome::Applied, None, files),
            }
        }
    };
    Ok(PatchReport { id: id.to_string(), outcome, reason, files })
}

/// The states the mode lets through, and what to say when it holds everything.
fn eligible(mode: Mode, require_approval: bool) -> (Vec<State>, Option<String>) {
    match mode {
        Mode::Paused | Mode::Lockdown => (Vec::new(), Some(format!("mode is {mode}: nothing was applied"))),
        Mode::Manual => (vec![State::Approved], None),
        Mode::Auto if require_approval => (vec![State::Approved], None),
        Mode::Auto => (vec![State::Approved, State::Pending], None),
    }
}

/// The patches in these states, oldest first across states.
pub(super) fn waiting(env: &Env, states: &[State]) -> Result<Vec<Entry>> {
    let mut all = Vec::new();
    for state in states {
        all.extend(queue::list(env.home, env.name, *state)?);
    }
    all.sort_by(|a, b| (a.modified, &a.id).cmp(&(b.modified, &b.id)));
    Ok(all)
}

fn left_waiting(env: &Env, taken: &[State]) -> Result<Vec<String>> {
    let left: Vec<State> = [State::Pending, State::Approved].into_iter().filter(|s| !taken.contains(s)).collect();
    let mut ids: Vec<String> = waiting(env, &left)?.into_iter().map(|e| e.id).collect();
    // Whatever arrived during the run also waits.
    ids.extend(waiting(env, taken)?.into_iter().map(|e| e.id));
    Ok(ids)
}

fn empty_report(env: &Env, mode: Mode, check: bool, note: Option<String>) -> QueueReport {
    QueueReport {
        env: env.name.to_string(),
        mode,
        check,
        recovered: Vec::new(),
        patches: Vec::new(),
        waiting: Vec::new(),
        note,
    }
}

/// The body of a queue run; the caller holds the lock. `only`: process just this patch.
///
/// A run takes what arrives while it works too: after each pass over the waiting patches it
/// looks again, so a patch posted mid-run waits for the patches ahead of it, not for the whole
/// of another run in another process.
fn run(env: &Env, only: Option<&str>, actor: &str) -> Result<QueueReport> {
    let started = Instant::now();
    let recovered = recover::recover(env, actor)?;
    let mode = mode::read(env.home)?;
    let (states, note) = eligible(mode, env.cfg.require_approval);
    let mut report = empty_report(env, mode, false, note);
    report.recovered = recovered;
    let mut batch = Batch::default();
    let passes = passes(env, only, actor, mode, &states, &mut batch, &mut report);
    // A pass applies what it planned before it ends; what is still planned when the passes stop
    // early (the mode changed, or an error) is not written but goes back to wait.
    let released = batch.release(env);
    report.patches.append(&mut batch.reports);
    passes.and(released)?;
    report.waiting = left_waiting(env, &states)?;
    if let Some(id) = only.filter(|id| report.waiting.iter().any(|w| w == id)) {
        report.note.get_or_insert_with(|| format!("patch {id} waits for `runner approve {id}` (mode {mode})"));
    }
    heartbeat::beat(env.home, JOB, started)?;
    // And one per environment, so a check can tell which environment's cron line stopped.
    heartbeat::beat(env.home, &format!("{JOB}.{}", env.name), started)?;
    Ok(report)
}

/// Pass after pass over the waiting patches until one finds none to take (or the mode changes).
fn passes(
    env: &Env,
    only: Option<&str>,
    actor: &str,
    mode: Mode,
    states: &[State],
    batch: &mut Batch,
    report: &mut QueueReport,
) -> Result<()> {
    loop {
        let mut took = false;
        for entry in waiting(env, states)?.into_iter().filter(|e| only.is_none_or(|id| e.id == id)) {
            // An operator who changes the mode mid-run (say, to paused) stops the run here.
            let now = mode::read(env.home)?;
            if now != mode {
                report.note = Some(format!("mode changed to {now} during the run: stopped; the rest waits"));
                return Ok(());
            }
            let claimed = match queue::claim(env.home, env.name, &entry) {
                Ok(claimed) => claimed,
                // Approved or removed since the listing: not ours to take (approved ones come next pass).
                Err(_) if !entry.path.exists() => continue,
                Err(err) => return Err(err),
            };
            took = true;
            let bytes =
                std::fs::read(&claimed.path).with_context(|| format!("could not read {}", claimed.path.display()))?;
            let done = process_one(env, &claimed, &entry, bytes, actor, batch)
                .with_context(|| format!("could not process patch {}", entry.id))?;
            if let Some((done, envelope)) = done {
                callback::settled(env, &entry.id, &envelope, done.outcome, actor)?;
                batch.reports.push(done);
            }
        }
        // Applied and settled before looking again: the patches of one pass are answered together.
        batch.flush(env, actor)?;
        if !took || only.is_some() {
            return Ok(());
        }
    }
}

/// The most patches applied together, and the most bytes of old and new file contents they hold
/// until then (one larger patch still goes alone).
const BATCH_MAX: usize = 64;
const BATCH_BYTES: usize = 64 << 20;

/// Patches taken in this pass, planned and waiting to be applied together: backed up, journaled
/// and written with each step's flushes shared ([`journal::apply_many`]), then settled together
/// ([`record::settle_many`]). Only patches on disjoint files go together (each is planned
/// against the tree before any of them is written, and recovery restores each from its own
/// backup), and only those without validate commands or git commits, which see or record the
/// tree as a whole.
#[derive(Debug, Default)]
struct Batch {
    planned: Vec<Planned>,
    /// The paths the planned patches change, with symlinked directories resolved, and every
    /// directory above one: a patch that writes `d` and one that writes `d/x` do not go together.
    paths: HashSet<String>,
    dirs: HashSet<String>,
    /// The planned patches' old and new file contents, in bytes.
    bytes: usize,
    /// The queue directories the claims left, flushed with the backups.
    left: Vec<PathBuf>,
    /// Every patch settled so far, in the order they were taken.
    reports: Vec<PatchReport>,
}

#[derive(Debug)]
struct Planned {
    entry: Entry,
    /// Where it waited before it was claimed.
    waited: State,
    result: PatchResult,
    t0: Instant,
    plan: Plan,
    envelope: Vec<u8>,
}

impl Batch {
    /// Whether this patch, as prepared, can join the patches already planned.
    fn takes(&self, env: &Env, prepared: &Result<Prepared, String>) -> bool {
        let Ok(p) = prepared else { return false };
        self.planned.len() < BATCH_MAX
            && self.bytes + size(&p.plan) <= BATCH_BYTES
            && joinable(env, p)
            && !resolved(env, &p.plan).iter().any(|path| {
                self.paths.contains(path)
                    || self.dirs.contains(path)
                    || ancestors(path).any(|dir| self.paths.contains(dir))
            })
    }

    fn plan(&mut self, env: &Env, planned: Planned, left: &Path) {
        self.bytes += size(&planned.plan);
        for path in resolved(env, &planned.plan) {
            self.dirs.extend(ancestors(&path).map(str::to_string));
            self.paths.insert(path);
        }
        if !self.left.iter().any(|l| l == left) {
            self.left.push(left.to_path_buf());
        }
        self.planned.push(planned);
    }

    /// The planned patches and the directories their claims left; the batch is left empty but
    /// for its reports.
    fn drain(&mut self) -> (Vec<Planned>, Vec<PathBuf>) {
        let reports = std::mem::take(&mut self.reports);
        let Batch { planned, left, .. } = std::mem::replace(self, Batch { reports, ..Batch::default() });
        (planned, left)
    }

    /// Put every planned patch back where it waited, its claim undone: nothing of it was written.
    fn release(&mut self, env: &Env) -> Result<()> {
        let (planned, _) = self.drain();
        let moves: Vec<(&Entry, State)> = planned.iter().map(|p| (&p.entry, p.waited)).collect();
        queue::transition_many(env.home, env.name, &moves).map(drop)
    }

    /// Apply every planned patch, settle them, then drop their journals and call them back.
    fn flush(&mut self, env: &Env, actor: &str) -> Result<()> {
        if self.planned.is_empty() {
            return Ok(());
        }
        let (planned, left) = self.drain();
        let left: Vec<&Path> = left.iter().map(PathBuf::as_path).collect();
        let keyed: Vec<(&str, &Plan)> = planned.iter().map(|p| (p.entry.id.as_str(), &p.plan)).collect();
        let applied = journal::apply_many(env.home, env.name, &env.fence, &keyed, &left);
        let mut settling = Vec::with_capacity(planned.len());
        let mut rest = Vec::with_capacity(planned.len());
        for (p, applied) in planned.into_iter().zip(applied) {
            let mut result = p.result;
            let journal = match applied {
                Ok(journal) => {
                    result.outcome = Outcome::Applied;
                    Some(journal)
                }
                Err(err) => {
                    result.reason = Some(format!("{err:#}"));
                    backup::remove(&backup::dir(env.home, env.name, &p.entry.id)?)?;
                    None
                }
            };
            settling.push((p.entry, result, p.t0));
            rest.push((journal, p.envelope));
        }
        let reports = record::settle_many(env, settling, actor)?;
        for ((journal, envelope), done) in rest.into_iter().zip(reports) {
            journal.map(journal::Journal::finish).transpose()?;
            callback::settled(env, &done.id, &envelope, done.outcome, actor)?;
            self.reports.push(done);
        }
        Ok(())
    }
}

/// The bytes of old and new contents a plan holds.
fn size(plan: &Plan) -> usize {
    plan.files.iter().flat_map(|f| [&f.before, &f.after]).flatten().map(|s| s.bytes.len()).sum()
}

/// The paths a plan changes as the fence resolves them (as spelled where it cannot).
fn resolved(env: &Env, plan: &Plan) -> Vec<String> {
    plan.files.iter().map(|f| env.fence.resolve(&f.path).unwrap_or_else(|_| f.path.clone())).collect()
}

/// `a/b/c` → `a/b`, `a`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(|(i, _)| &path[..i]).rev()
}

/// A patch that can be applied with others: one the queue takes, that changes something, and
/// whose environment neither checks it nor commits it.
fn joinable(env: &Env, p: &Prepared) -> bool {
    refuse(env, p).is_none()
        && !p.plan.is_noop()
        && Git::of(env.cfg).is_none()
        && env.cfg.validate.is_empty()
        && p.commands.is_empty()
}

/// `entry`: the patch claimed into applying/, whose envelope is `bytes`; `waited`: where it was,
/// whose directory the claim left unsynced. `None`: planned in `batch`, to be applied and
/// settled with it; else the report and the envelope, to call back.
fn process_one(
    env: &Env,
    entry: &Entry,
    waited: &Entry,
    bytes: Vec<u8>,
    actor: &str,
    batch: &mut Batch,
) -> Result<Option<(PatchReport, Vec<u8>)>> {
    let t0 = Instant::now();
    let left = waited.path.parent().context("a queued patch has a directory")?;
    let mut prepared = prepare(env.cfg, &env.fence, &bytes);
    // A patch that cannot join the planned ones comes after them: they are applied and settled
    // first (so reports and the audit log keep the order patches were taken in), and it is
    // planned again against the tree as they leave it.
    if !batch.planned.is_empty() && !batch.takes(env, &prepared) {
        batch.flush(env, actor)?;
        prepared = prepare(env.cfg, &env.fence, &bytes);
    }
    // Outcomes that write nothing to the tree finish the claim's flush first.
    let settle = |result| -> Result<_> {
        sync_dir(left)?;
        Ok(Some((record::settle(env, entry, result, t0, actor)?, bytes.clone())))
    };
    let mut result = record::draft(env, entry);
    let prepared = match prepared {
        Ok(p) => p,
        Err(reason) => {
            result.outcome = Outcome::Refused;
            result.reason = Some(reason);
            return settle(result);
        }
    };
    result.format = prepared.format.clone();
    result.description = prepared.description.clone();
    result.author = prepared.author.clone();
    result.files = prepared.plan.files.iter().map(|f| f.result.clone()).collect();
    if let Some(reason) = refuse(env, &prepared) {
        result.outcome = Outcome::Refused;
        result.reason = Some(reason);
        return settle(result);
    }
    if prepared.plan.is_noop() {
        result.outcome = Outcome::AlreadyApplied;
        return settle(result);
    }
    if joinable(env, &prepared) {
        let planned =
            Planned { entry: entry.clone(), waited: waited.state, result, t0, plan: prepared.plan, envelope: bytes };
        batch.plan(env, planned, left);
        return Ok(None);
    }
    let git = Git::of(env.cfg);
    if let Some(reason) = git.as_ref().map(|g| g.refuse(&git::touched(&result))).transpose()?.flatten() {
        result.outcome = Outcome::Refused;
        result.reason = Some(reason);
        return settle(result);
    }
    let journal = match journal::apply(env.home, env.name, &entry.id, &env.fence, &prepared.plan, &[left]) {
        Ok(j) => j,
        Err(err) => {
            result.reason = Some(format!("{err:#}"));
            backup::remove(&backup::dir(env.home, env.name, &entry.id)?)?;
            return settle(result);
        }
    };
    // The operator's commands first, then the patch's own (refused above unless allowed).
    let commands: Vec<String> = env.cfg.validate.iter().chain(&prepared.commands).cloned().collect();
    let checks = env.validate_runner(&entry.id).run_all(&commands);
    let failure = match &checks {
        Ok(runs) => runs
            .iter()
            .find(|c| !validate::passed(c))
            .map(|c| format!("validate command `{}` {}", c.command, verdict(c))),
        Err(err) => Some(format!("{err:#}")),
    };
    result.checks = checks.unwrap_or_default();
    let failure = match (failure, &git) {
        (None, Some(git)) => commit(env, git, &mut result)?,
        (failure, _) => failure,
    };
    result.outcome = match failure {
        None => Outcome::Applied,
        Some(why) => {
            journal.restore(&env.fence, &prepared.plan)?;
            result.reason = Some(format!("{why}; every file was restored"));
            Outcome::RolledBack
        }
    };
    let report = record::settle(env, entry, result, t0, actor)?;
    journal.finish()?;
    if report.outcome == Outcome::RolledBack {
        backup::remove(&backup::dir(env.home, env.name, &entry.id)?)?;
    }
    Ok(Some((report, bytes)))
}

/// Commit the applied, checked patch; why not, if git refused. The result is written first, as
/// applied: a run killed after the commit lands is then settled as applied by recovery, which
/// finds the commit by its trailer (one killed before it is rolled back like any other).
fn commit(env: &Env, git: &Git, result: &mut PatchResult) -> Result<Option<String>> {
    result.outcome = Outcome::Applied;
    record::write(env, result)?;
    Ok(match git.commit_patch(env.name, result)? {
        Ok(commit) => {
            result.commit = Some(commit);
            None
        }
        Err(output) => Some(format!("git could not commit the patch: {}", output.trim())),
    })
}

fn verdict(c: &crate::store::results::CheckRun) -> String {
    match (c.timed_out, c.exit_code) {
        (true, _) => format!("timed out after {} ms and was killed", c.duration_ms),
        (false, Some(code)) => format!("failed (exit {code})"),
        (false, None) => "was killed by a signal".to_string(),
    }
}

/// What the queue refuses beyond the engine: a patch addressed to another environment (its
/// `env`, or the legacy `role`, compared without case), and commands inside a patch where the
/// environment does not allow them (refused rather than applied without the checks its author
/// asked for).
fn refuse(env: &Env, p: &Prepared) -> Option<String> {
    if let Some(target) = p.env.as_deref().filter(|t| !t.eq_ignore_ascii_case(env.name)) {
        return Some(format!("the patch is addressed to environment {target:?}, not {:?}", env.name));
    }
    (!p.commands.is_empty() && !env.cfg.allow_patch_commands).then(|| {
        format!(
            "the patch carries validate commands ({}) but env.{}.allow_patch_commands is false: \
             send it without `validate`, or ask the operator to allow patch commands",
            p.commands.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
            env.name
        )
    })
}

/// The id and queue envelope for a patch file: a JSON patch keeps its bytes and its `id` (or
/// `blockId`, the legacy name); anything else is wrapped as `{"id", "patch": text}`. Without an
/// id, the content's hash names it, so queueing the same file twice queues it once.
pub(super) fn envelope(bytes: &[u8]) -> Result<(String, Vec<u8>)> {
    let hash_id = || format!("sha256-{}", &sha256_hex(bytes)[..16]);
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(bytes) {
        let id = match map.get("id").or_else(|| map.get("blockId")) {
            Some(Value::String(id)) => id.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => bail!("the patch's `id` must be a string, not {other}"),
            None => hash_id(),
        };
        queue::check_id(&id).context("the patch's `id` field cannot name a queue file")?;
        return Ok((id, bytes.to_vec()));
    }
    let text = std::str::from_utf8(bytes).context("the patch is neither a JSON envelope nor UTF-8 text")?;
    let id = hash_id();
    let mut wrapped = serde_json::to_vec_pretty(&serde_json::json!({ "id": id, "patch": text }))?;
    wrapped.push(b'\n');
    Ok((id, wrapped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes() {
        let (id, bytes) = envelope(b"{\"id\": \"p-1\", \"patch\": \"x\"}").unwrap();
        assert_eq!((id.as_str(), bytes.as_slice()), ("p-1", b"{\"id\": \"p-1\", \"patch\": \"x\"}".as_slice()));
        assert_eq!(envelope(b"{\"blockId\": 7, \"mutations\": []}").unwrap().0, "7");
        let (id, bytes) = envelope(b"--- a/x\n+++ b/x\n").unwrap();
        assert!(id.starts_with("sha256-") && id.len() == 23, "{id}");
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["patch"], "--- a/x\n+++ b/x\n");
        assert_eq!(v["id"], id.as_str());
        assert!(envelope(b"{\"id\": \"../x\"}").is_err());
        assert!(envelope(b"{\"id\": [1]}").is_err());
        assert!(envelope(b"\xff\xfe").is_err());
    }

    /// Env `main` over an empty `tree/`, in a temp directory.
    fn settings() -> (tempfile::TempDir, Settings) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tree")).unwrap();
        let settings =
            Settings::from_toml("[env.main]\ntree = \"tree\"\n", Some(&dir.path().join("runner.toml"))).unwrap();
        (dir, settings)
    }

    #[test]
    fn planned_patches_a_run_stops_before_writing_go_back_where_they_waited() {
        let (dir, settings) = settings();
        let home = crate::store::Home::new(&settings.home);
        let env = Env::open(&settings, &home, "main").unwrap();
        let mut batch = Batch::default();
        for (id, state) in [("p1", State::Pending), ("p2", State::Approved)] {
            let patch =
                format!(r#"{{"id": "{id}", "operations": [{{"op": "write", "path": "{id}.txt", "contents": "x"}}]}}"#);
            let waited = queue::enqueue(&home, "main", id, state, patch.as_bytes()).unwrap();
            let claimed = queue::claim(&home, "main", &waited).unwrap();
            let done = process_one(&env, &claimed, &waited, patch.into_bytes(), "test", &mut batch).unwrap();
            assert!(done.is_none(), "{id} is planned, not settled");
        }
        batch.release(&env).unwrap();
        let state = |id| queue::find(&home, "main", id).unwrap().map(|e| e.state);
        assert_eq!((state("p1"), state("p2")), (Some(State::Pending), Some(State::Approved)));
        assert_eq!(std::fs::read_dir(dir.path().join("tree")).unwrap().count(), 0, "nothing was written");
        assert!(queue::list(&home, "main", State::Applying).unwrap().is_empty());
        assert!(!home.backups_dir("main").join("p1").exists());
        assert!(process_queue(&settings, &home, "main", false, "test").unwrap().ok());
        assert_eq!(std::fs::read_to_string(dir.path().join("tree/p2.txt")).unwrap(), "x");
    }

    #[test]
    fn a_batch_holds_at_most_its_bytes_of_file_contents() {
        let (_dir, settings) = settings();
        let home = crate::store::Home::new(&settings.home);
        let env = Env::open(&settings, &home, "main").unwrap();
        let writing = |path: &str, bytes: usize| -> Result<Prepared, String> {
            let result = crate::store::results::FileResult {
                path: path.into(),
                action: "create".into(),
                from: None,
                added: 1,
                removed: 0,
                matched: None,
            };
            let after = crate::patch::plan::Snapshot { bytes: vec![b'x'; bytes], mode: 0o644 };
            let plan = Plan {
                files: vec![crate::patch::plan::FileChange {
                    path: path.into(),
                    before: None,
                    after: Some(after),
                    result,
                }],
            };
            let (format, description, author, env, commands) = ("ops".into(), None, None, None, Vec::new());
            Ok(Prepared { format, description, author, env, commands, plan })
        };
        let mut batch = Batch::default();
        let big = writing("big", BATCH_BYTES / 2 + 1).unwrap();
        let entry = Entry {
            id: "big".into(),
            state: State::Applying,
            path: "big.json".into(),
            modified: std::time::UNIX_EPOCH,
        };
        let planned = Planned {
            result: record::draft(&env, &entry),
            entry,
            waited: State::Pending,
            t0: Instant::now(),
            plan: big.plan,
            envelope: Vec::new(),
        };
        batch.plan(&env, planned, Path::new("pending"));
        assert!(!batch.takes(&env, &writing("second", BATCH_BYTES / 2)), "over the budget together");
        assert!(batch.takes(&env, &writing("small", 1000)));
    }

    #[test]
    fn modes_gate_states() {
        assert_eq!(eligible(Mode::Auto, false).0, vec![State::Approved, State::Pending]);
        assert_eq!(eligible(Mode::Auto, true).0, vec![State::Approved]);
        assert_eq!(eligible(Mode::Manual, false).0, vec![State::Approved]);
        for m in [Mode::Paused, Mode::Lockdown] {
            let (states, note) = eligible(m, false);
            assert!(states.is_empty() && note.unwrap().contains("nothing was applied"));
        }
    }
}
