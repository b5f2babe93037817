//! The patch engine: formats, matcher, plan, transaction, summary.

pub mod backup;
pub mod fence;
pub mod journal;
pub mod plan;
pub mod summary;
pub mod transaction;
pub mod validate;
