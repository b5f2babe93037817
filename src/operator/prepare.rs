//! The one place the queue meets the patch engine: bytes → metadata and a [`Plan`], or the
//! reason the patch is refused.

use crate::config::EnvConfig;
use crate::patch::fence::Fence;
use crate::patch::plan::Plan;
use crate::patch::{Limits, Refusal, parse, plan};

/// A patch read and matched against the tree, ready to apply.
#[derive(Debug)]
pub(super) struct Prepared {
    pub format: String,
    pub description: Option<String>,
    pub author: Option<String>,
    /// The environment the patch says it is for, if it says.
    pub env: Option<String>,
    /// Commands the patch carries (`validate`), run only where the environment allows.
    pub commands: Vec<String>,
    pub plan: Plan,
}

/// `Err(reason)`: the patch is refused (unreadable, fenced off, a hunk that does not match), with
/// the reason in words for the model that wrote it.
pub(super) fn prepare(env: &EnvConfig, fence: &Fence, bytes: &[u8]) -> Result<Prepared, String> {
    let patch = match parse(bytes, None, None) {
        Ok(p) => p,
        Err(err) => return Err(format!("{err:#}")),
    };
    let limits = Limits { max_file_size: env.max_file_size.0 };
    let plan = match plan(&patch, fence, &limits) {
        Ok(plan) => plan,
        Err(refusal) => return Err(format!("{refusal}\n{}", resend(&refusal))),
    };
    Ok(Prepared {
        format: patch.format.as_str().to_string(),
        description: patch.meta.description,
        author: patch.meta.author,
        env: patch.meta.env,
        commands: patch.meta.validate,
        plan,
    })
}

/// The one sentence a model needs after the refusal itself: what to send next. Nothing was
/// written, so the whole patch is resent, not just the part that failed.
fn resend(r: &Refusal) -> String {
    match r.hunk {
        Some(n) if !r.closest.is_empty() => format!(
            "Resend the whole patch with hunk {n} of {} rebuilt from the file as it is now: copy its context and \
             removed lines from the closest lines above (or send a `write` operation with the whole new file).",
            r.file
        ),
        Some(n) if r.reason.contains("places") => format!(
            "Resend the whole patch with more unchanged context lines around hunk {n} of {} so it matches one place.",
            r.file
        ),
        Some(n) => format!(
            "Resend the whole patch with hunk {n} of {} made from the file's current text (read it first).",
            r.file
        ),
        None => format!("Nothing was changed: resend the whole patch with {} fixed as said above.", r.file),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_ends_with_what_to_resend() {
        let mut r = Refusal::new("app.py", "its context lines are not in the file").hunk(2);
        assert!(resend(&r).contains("Resend the whole patch with hunk 2 of app.py made from"), "{}", resend(&r));
        r.closest = vec!["   3 | x".into()];
        assert!(resend(&r).contains("copy its context and removed lines from the closest lines"));
        let amb = Refusal::new("a", "its lines match in 2 places (lines 1, 5)").hunk(1);
        assert!(resend(&amb).contains("more unchanged context lines around hunk 1"));
        assert!(resend(&Refusal::new("etc/x", "outside the fence")).contains("with etc/x fixed"));
    }
}
