//! Integration tests: one binary, a module per subcommand, all driving the built `runner`.

mod support;

mod archive_summaries;
mod foundation;
mod gen_docs;
