//! Integration tests: one binary, a module per subcommand, all driving the built `runner`.

mod loopback;
mod support;

mod apply_direct;
mod apply_queue;
mod archive_summaries;
mod callback;
mod crash;
mod damaged_match;
mod dashboard;
mod formats;
mod foundation;
mod gen_docs;
mod generated;
mod health_check;
mod operator;
mod property;
mod queue_fixture;
mod serve_webhook;
mod slack;
mod watchdog;
mod webhook_fixture;
