//! Slack: slash commands, replies, outgoing alerts.

pub mod alert;
