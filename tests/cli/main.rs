//! Integration tests: one binary, a module per subcommand, all driving the built `runner`.

mod loopback;
mod support;

mod apply_direct;
mod apply_queue;
mod archive_summaries;
mod callback;
mod crash;
mod crash_leftovers;
mod dashboard;
mod fence_symlinks;
mod formats;
mod foundation;
mod gen_docs;
mod generated;
mod health_check;
mod operator;
mod patch_modes;
mod property;
mod queue_fixture;
mod revert_escape;
mod serve_webhook;
mod slack;
mod watchdog;
mod webhook_fixture;
