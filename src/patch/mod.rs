//! The patch engine: formats, matcher, transaction, summary.

pub mod fence;
