//! The patch engine: formats, matcher, plan, transaction, summary.

pub mod fence;
pub mod plan;
pub mod transaction;
