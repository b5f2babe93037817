//! Integration tests: one binary, a module per subcommand, all driving the built `runner`.

mod loopback;
mod support;

mod apply_direct;
mod apply_queue;
mod crash;
mod formats;
mod foundation;
mod generated;
mod health_check;
mod operator;
mod property;
mod queue_fixture;
mod watchdog;
