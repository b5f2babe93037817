//! `gen-docs` and `archive-summaries`: the self-organising record of every patch.
