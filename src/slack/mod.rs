//! Slack: slash commands, replies, outgoing alerts.
