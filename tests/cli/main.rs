//! Integration tests: one binary, a module per subcommand, all driving the built `runner`.

mod loopback;
mod support;

mod foundation;
mod generated;
mod health_check;
mod watchdog;
