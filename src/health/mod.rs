//! Probes (`health-check`) and the restart state machine (`watchdog`).

pub mod config;
