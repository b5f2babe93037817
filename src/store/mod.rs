//! Everything runner keeps on disk (DESIGN.md "On disk"): paths, atomic writes, locks, queue
//! transitions, the audit log, heartbeats, the mode and per-patch results.

pub mod atomic;
pub mod events;
pub mod heartbeat;
pub mod lock;
pub mod mode;
pub mod paths;
pub mod queue;
pub mod results;

pub use paths::Home;
