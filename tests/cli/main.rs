//! Integration tests: one binary, a module per subcommand, all driving the built `runner`.

mod support;

mod apply_direct;
mod dashboard;
mod formats;
mod foundation;
mod generated;
mod property;
mod serve_webhook;
mod slack;
