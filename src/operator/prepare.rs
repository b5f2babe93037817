//! The one place the queue meets the patch engine: bytes → metadata and a [`Plan`], or the
//! reason the patch is refused.

use crate::config::EnvConfig;
use crate::patch::fence::Fence;
use crate::patch::plan::Plan;
use crate::patch::{Limits, parse, plan};

/// A patch read and matched against the tree, ready to apply.
#[derive(Debug)]
pub struct Prepared {
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
pub fn prepare(env: &EnvConfig, fence: &Fence, bytes: &[u8]) -> Result<Prepared, String> {
    let patch = match parse(bytes, None, None) {
        Ok(p) => p,
        Err(err) => return Err(format!("{err:#}")),
    };
    let limits = Limits { max_file_size: env.max_file_size.0 };
    let plan = match plan(&patch, fence, &limits) {
        Ok(plan) => plan,
        Err(refusal) => return Err(refusal.to_string()),
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
