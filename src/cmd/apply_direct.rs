//! `runner apply-patch --tree DIR FILE`: like `git apply`, no config, no home. Exit 0 applied
//! (or already applied), 1 refused with nothing written, 2 on error.

use std::io::Read;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::Context;
use crate::cli::ApplyPatchArgs;
use crate::exit::Outcome;
use crate::patch::fence::Fence;
use crate::patch::{self, Limits, Refusal, transaction};
use crate::store::results::FileResult;

/// What `--json` prints.
#[derive(Debug, Serialize)]
struct Report<'a> {
    /// applied, already-applied, would-apply, refused.
    outcome: &'static str,
    format: &'static str,
    files: Vec<&'a FileResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<&'a Refusal>,
    /// What reading the patch forgave (a hunk given twice, applied once).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
}

pub(super) fn run(ctx: &Context, args: ApplyPatchArgs) -> Result<Outcome> {
    let tree = args.tree.as_deref().context("--tree is required for direct mode")?;
    let file = args.file.as_deref().context("name the patch file (or `-` for stdin)")?;
    let input = read_input(file)?;
    let parsed = match patch::parse(&input, args.format, args.strip) {
        Ok(parsed) => parsed,
        // Cut off or self-contradictory: refused like a hunk that does not match.
        Err(e) => match e.downcast::<patch::Refused>() {
            Ok(refused) => return refuse(ctx, refused.format.as_str(), &refused.refusal),
            Err(e) => return Err(e.context(format!("could not parse patch {}", file.display()))),
        },
    };
    let fence = Fence::new(tree, &[])?;
    let format = parsed.format.as_str();
    let plan = match patch::plan(&parsed, &fence, &Limits::default()) {
        Ok(plan) => plan,
        Err(refusal) => return refuse(ctx, format, &refusal),
    };
    let files: Vec<&FileResult> = plan.files.iter().map(|f| &f.result).collect();
    let outcome = if plan.is_noop() {
        "already-applied"
    } else if args.check {
        "would-apply"
    } else {
        transaction::commit(&fence, &plan).with_context(|| format!("could not apply patch {}", file.display()))?;
        "applied"
    };
    if ctx.global.json {
        crate::output::json(&Report { outcome, format, files, refusal: None, notes: &parsed.notes })?;
    } else if outcome == "already-applied" {
        ctx.say("already applied; nothing changed")?;
    } else if args.check || ctx.global.verbose > 0 {
        for f in &files {
            let matched = f.matched.as_deref().map(|m| format!(" ({m})")).unwrap_or_default();
            ctx.say(format!("{:<7} {} +{} -{}{matched}", f.action, f.path, f.added, f.removed))?;
        }
        for note in &parsed.notes {
            ctx.say(format!("note: {note}"))?;
        }
        if args.check {
            ctx.say(format!("would apply cleanly ({format}, {} files)", files.len()))?;
        }
    }
    Ok(Outcome::Yes)
}

/// Report a refusal (exit 1): on stdout as JSON with `--json`, else on stderr.
fn refuse(ctx: &Context, format: &'static str, refusal: &Refusal) -> Result<Outcome> {
    if ctx.global.json {
        crate::output::json(&Report {
            outcome: "refused",
            format,
            files: Vec::new(),
            refusal: Some(refusal),
            notes: &[],
        })?;
    } else {
        eprint_line(&format!("runner: refused: {refusal}"));
    }
    Ok(Outcome::No)
}

/// The patch file's bytes; `-` reads stdin. Queue mode reads its FILE the same way.
pub(super) fn read_input(file: &Path) -> Result<Vec<u8>> {
    if file == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).context("could not read the patch from stdin")?;
        return Ok(buf);
    }
    std::fs::read(file).with_context(|| format!("could not read patch {}", file.display()))
}

/// A refusal goes to stderr, like any message about why the answer is no.
fn eprint_line(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}
