//! The patch engine: formats, matcher, plan, transaction, summary.
//!
//! `parse` reads any supported format into a [`Patch`]; `plan` matches it against a tree
//! (through the [`fence::Fence`]) and returns the full [`plan::Plan`] or the first [`Refusal`],
//! writing nothing; `transaction::commit` writes a plan all-or-nothing, and `journal::apply` does
//! so crash-safely with a backup (queue mode and revert).

pub(crate) mod backup;
mod detect;
pub(crate) mod fence;
pub(crate) mod format;
mod hunks;
pub(crate) mod journal;
pub(crate) mod matcher;
pub(crate) mod model;
mod placeholder;
pub mod plan;
mod planner;
mod refusal;
mod reindent;
pub(crate) mod summary;
pub(crate) mod text;
pub(crate) mod transaction;
pub(crate) mod validate;

pub(crate) use detect::Refused;
pub use detect::parse;
pub(crate) use model::{Format, Patch};
pub use planner::{Limits, plan};
pub(crate) use refusal::Refusal;
