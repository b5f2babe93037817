//! Integration tests: one binary driving the built `runner`. A module per subcommand or concern,
//! in the order a reader meets them; the harness and fixtures live in `support/`.

/// The harness (hermetic temp dirs, runs with chained assertions, `wait_until`, a seeded
/// generator) and the fixtures: queue patches, a webhook listener, loopback servers, patch files.
mod support;

// Setting up and looking around.
/// The audit log's unparsable lines, reported by status.
mod audit_log;
/// `--json` on every command, errors included; fish completions; mandoc lint; per-env heartbeats.
mod contract;
/// init, status, mode, config, the audit log's locking.
mod foundation;
/// man/ and completions/ match what clap generates.
mod generated;

// Applying patches.
/// `apply-patch --tree`: the matcher's forgiving and strict cases, byte for byte.
mod apply_direct;
/// apply-patch in queue mode: claiming, modes, validate commands, rollback, records.
mod apply_queue;
/// A settled patch's record posted to an allow-listed callback.
mod callback;
/// SIGKILL at random moments; the next run recovers whole files.
mod crash;
/// What a killed run leaves (temp files, backups, directories) is gone after the next run.
mod crash_leftovers;
/// Damaged patches as models write them: placeholders, indentation, anchors, misplaced hunks, paths.
mod damaged_match;
/// Damaged patches as models write them: truncation, markers, headers, duplicates, byte for byte.
mod damaged_parse;
/// The fence judges resolved paths: symlinks in the tree cannot carry a write out.
mod fence_symlinks;
/// Every patch format, detected and forced, on the same tree.
mod formats;
/// `git = "commit"`: one commit per patch, refusals, hook rollbacks, reverts, crashes.
mod git;
/// approve, preview, revert, retry.
mod operator;
/// Modes from patches: no setuid/setgid/sticky bits; git symlinks inside the fence.
mod patch_modes;
/// Random files and edits, `diff -u` between them, applied back.
mod property;
/// Patches arriving during a run, and the patches of one pass settled together.
mod queue_batch;
/// revert refuses ids that are paths and manifests naming paths outside the fence.
mod revert_escape;

// The listener and Slack.
/// The API contract: schemathesis against the live /openapi.json.
mod api_contract;
/// The dashboard in headless Chromium.
mod dashboard;
/// HTTP framing, HEAD/405/Date, per-client shares, rate buckets, body memory, replays.
mod listener_hardening;
/// The model's round trip: applied on arrival, `?wait=`, answers sized for a GPT.
mod roundtrip;
/// serve-webhook over raw sockets: limits, auth, intake, shutdown.
mod serve_webhook;
/// POST /slack/commands: signatures, admins, each command's effect.
mod slack;
/// Outcome messages with buttons, POST /slack/interactions, escaping.
mod slack_outcome;

// The cron jobs.
/// archive-summaries: ages, collisions, pruned backups.
mod archive_summaries;
/// gen-docs: manifest, README and INDEX.md, determinism.
mod gen_docs;
/// health-check: every probe kind, alerts, the dead-man ping.
mod health_check;
/// health-check under faults: concurrent alerts, broken state files, a missing ping URL.
mod health_check_faults;
/// watchdog: restarts, budget, circuit breaker.
mod watchdog;
/// watchdog under faults: killed mid-restart, crash loops, stale pidfiles, TERM-proof children.
mod watchdog_faults;

// The source itself.
/// The module graph follows the declared layers, without cycles.
mod module_graph;
