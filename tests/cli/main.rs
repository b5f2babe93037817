//! Integration tests: one binary, a module per subcommand, all driving the built `runner`.

mod support;

mod apply_direct;
mod apply_queue;
mod archive_summaries;
mod crash;
mod formats;
mod foundation;
mod gen_docs;
mod generated;
mod operator;
mod property;
mod queue_fixture;
