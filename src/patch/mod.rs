//! The patch engine: formats, matcher, plan, transaction, summary.
//!
//! `parse` reads any supported format into a [`Patch`]; `plan` matches it against a tree
//! (through the [`fence::Fence`]) and returns the full [`plan::Plan`] or the first [`Refusal`],
//! writing nothing; `transaction::commit` writes a plan all-or-nothing, and `journal::apply` does
//! so crash-safely with a backup (queue mode and revert).

pub mod backup;
mod detect;
pub mod fence;
pub mod format;
mod hunks;
pub mod journal;
pub mod matcher;
pub mod model;
mod placeholder;
pub mod plan;
mod planner;
mod refusal;
mod reindent;
pub mod summary;
pub mod text;
pub mod transaction;
pub mod validate;

pub use detect::{Refused, parse};
pub use model::{Edit, FileDiff, Format, Hunk, Line, Meta, Patch};
pub use planner::{Limits, plan};
pub use refusal::Refusal;
