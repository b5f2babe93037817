//! Integration tests: one binary, a module per subcommand, all driving the built `runner`.

mod support;

mod apply_queue;
mod crash;
mod foundation;
mod operator;
mod queue_fixture;
