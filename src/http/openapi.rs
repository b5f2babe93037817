//! `GET /openapi.json`: OpenAPI 3.1 for `POST /webhook` and `GET /patches/{id}` with bearer
//! auth, ready to import as a custom GPT action (the server URL is `server.public_url`).
//!
//! The document is this server's contract, exact enough that a generator of requests
//! (schemathesis, tests/cli/contract.rs) finds every request it calls valid accepted and every
//! invalid one refused: it is built from the config (environment names, callback hosts,
//! max_wait), every field is typed as intake checks it, nothing undeclared is accepted
//! (`additionalProperties: false`), and null stands for an absent field as intake reads it.
//! What a schema cannot spell (a diff that parses, a path inside the fence, a regular expression
//! the `regex` crate takes) is a named `format` described in words.

use serde_json::{Value, json};

use crate::config::Settings;

/// The largest integer id (JSON numbers above it lose digits in many clients).
pub(crate) const MAX_INT_ID: u64 = (1 << 53) - 1;

pub(crate) fn document(base_url: &str, settings: &Settings) -> Value {
    let error = json!({ "$ref": "#/components/schemas/Error" });
    let err = |what: &str| json!({ "description": what, "content": { "application/json": { "schema": error } } });
    let max_wait = settings.config.server.max_wait.std().as_secs();
    let envs: Vec<&String> = settings.config.env.keys().collect();
    let mut hosts: Vec<&String> = settings.config.env.values().flat_map(|e| &e.callback_hosts).collect();
    hosts.sort();
    hosts.dedup();
    let patch_state = json!({ "application/json": {
        "schema": { "$ref": "#/components/schemas/PatchState" },
        "examples": {
            "applied": { "summary": "Applied in the same call", "value": example_applied(base_url) },
            "refused": { "summary": "Refused: what to fix and resend", "value": example_refused(base_url) }
        } } });
    let receipt = json!({ "application/json": {
        "schema": { "$ref": "#/components/schemas/Receipt" },
        "example": { "id": "add-greeting", "env": settings.default_env, "state": "pending",
                     "url": format!("{base_url}/patches/add-greeting") } } });
    let settled_or_receipt = json!({ "application/json": { "schema": { "anyOf": [
        { "$ref": "#/components/schemas/PatchState" }, { "$ref": "#/components/schemas/Receipt" } ] } } });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "runner",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Propose a code change to the operator's source tree. Each patch is checked, queued, applied \
                all-or-nothing with the operator's checks, or refused with what to fix. Call queuePatch with \
                wait=25 to read the verdict in the same call; getPatch reads it later."
        },
        "servers": [{ "url": base_url }],
        "security": [{ "bearer": [] }],
        "paths": {
            "/webhook": {
                "post": {
                    "operationId": "queuePatch",
                    "summary": "Queue a patch for the operator's tree and, with wait, return its verdict",
                    "description": "Send a JSON envelope with the change as `patch` text (a unified diff, a Codex \
                        apply_patch envelope or SEARCH/REPLACE blocks) or as a list of `operations`. With `wait`, \
                        the answer is held until the patch is applied or refused (200, the same body as getPatch) \
                        or the wait runs out (202: poll `url`). A refused patch's `result.reason` names the file, \
                        the hunk, the line expected and the line found, the closest lines of the file with their \
                        numbers, and what to resend. Reusing an id with the same body is safe (200); with another \
                        body it is refused (409).",
                    "parameters": [{
                        "name": "wait", "in": "query", "required": false,
                        "description": format!("Seconds to hold the answer until the patch settles, 0 to \
                            {max_wait} (server.max_wait). `Prefer: wait=N` (RFC 7240) does the same, capped at \
                            {max_wait}."),
                        "schema": { "type": "integer", "minimum": 0, "maximum": max_wait },
                        "example": max_wait.min(25)
                    }],
                    "requestBody": { "required": true, "content": { "application/json": {
                        "schema": { "$ref": "#/components/schemas/Envelope" },
                        "examples": {
                            "diff": { "summary": "A unified diff", "value": {
                                "id": "add-greeting", "description": "Greet by name",
                                "patch": "--- a/src/hello.py\n+++ b/src/hello.py\n@@ -1,2 +1,2 @@\n def hello(name):\n-    return 'hello'\n+    return f'hello {name}'\n" } },
                            "operations": { "summary": "Whole-file and search/replace operations", "value": {
                                "id": "notes-1", "description": "Add notes and fix a typo",
                                "operations": [
                                    { "op": "write", "path": "docs/notes.md", "contents": "# Notes\n" },
                                    { "op": "replace", "path": "README.md", "search": "teh", "replace": "the", "count": 1 }
                                ] } }
                        } } } },
                    "responses": {
                        "200": { "description": "With wait: the settled patch (as getPatch). Without: this id was \
                            already received with this body, and its state.", "content": settled_or_receipt },
                        "202": { "description": "Queued durably; not settled yet (manual mode, a long check, or the \
                            wait ran out): poll `url`", "content": receipt },
                        "400": err("The body is not JSON, or `wait` is not a whole number from 0 to max_wait"),
                        "401": err("Missing or wrong credentials"),
                        "409": err("This id was already received with a different body: use a new id"),
                        "413": err("The body is larger than server.max_body_bytes"),
                        "415": err("The body is not Content-Type: application/json"),
                        "422": err("The envelope is invalid (`field` names the field): a patch that does not parse, \
                            a path outside the tree or its allowed_paths, a callback host not allowed, an unknown env"),
                        "429": err("Too many requests from this address: retry after Retry-After seconds"),
                        "503": err("The runner is in lockdown, or too busy: retry after Retry-After seconds")
                    }
                }
            },
            "/patches/{id}": {
                "get": {
                    "operationId": "getPatch",
                    "summary": "What became of a patch: state, result and summary",
                    "description": "Long check output is cut to its head and tail to keep the answer under \
                        100,000 characters; full=1 returns it whole.",
                    "parameters": [
                        { "name": "id", "in": "path", "required": true, "description": "The patch's id",
                          "schema": { "type": "string", "pattern": ID_PATTERN } },
                        { "name": "env", "in": "query", "required": false,
                          "description": "The environment to look in; all of them when absent",
                          "schema": { "type": "string", "enum": envs } },
                        { "name": "full", "in": "query", "required": false,
                          "description": "1: every check's whole output, however long (may exceed what a GPT reads)",
                          "schema": { "type": "string", "enum": ["0", "1"] } }
                    ],
                    "responses": {
                        "200": { "description": "The patch", "content": patch_state },
                        "400": err("`full` is not 0 or 1"),
                        "401": err("Missing or wrong credentials"),
                        "404": err("No patch with this id has been received"),
                        "422": err("Unknown environment"),
                        "429": err("Too many requests from this address: retry after Retry-After seconds"),
                        "503": err("Too many open connections: retry shortly")
                    }
                }
            }
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer",
                "description": "The token the operator set in server.token_env or server.token_file" } },
            "schemas": schemas(&envs, &hosts)
        }
    })
}

/// What `queue::valid_id` accepts.
const ID_PATTERN: &str = "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$";

fn schemas(envs: &[&String], hosts: &[&String]) -> Value {
    let nullable = |schema: Value| json!({ "anyOf": [schema, { "type": "null" }] });
    let path = |what: &str| {
        json!({ "type": "string", "format": "tree-path", "description": format!("{what}: a path relative to \
            the tree, with `/` between names, inside the tree (no `..`, no `.git/`) and its allowed_paths") })
    };
    let count =
        nullable(json!({ "type": "integer", "minimum": 1, "maximum": crate::patch::format::envelope::MAX_COUNT,
        "description": "How many matches there must be; each is replaced. Absent: exactly one." }));
    let op = |name: &str, what: &str, props: Value, required: &[&str]| {
        let mut properties = json!({ "op": { "const": name, "description": what }, "path": path("The file") });
        properties.as_object_mut().unwrap().extend(props.as_object().unwrap().clone());
        let mut required: Vec<&str> = required.to_vec();
        required.splice(0..0, ["op", "path"]);
        json!({ "type": "object", "title": name, "description": what, "properties": properties,
                "required": required, "additionalProperties": false })
    };
    let mode = |required: bool| {
        let m = json!({ "type": "string", "format": "octal-mode",
            "description": "Permission bits in octal, \"755\" or \"0o644\" (at most 777: setuid, setgid and sticky bits are refused)" });
        if required { m } else { nullable(m) }
    };
    let mut common = json!({
        "id": nullable(json!({ "description": "Your id for this patch (reuse it to ask again); generated when absent",
            "anyOf": [ { "type": "string", "pattern": ID_PATTERN },
                       { "type": "integer", "minimum": 0, "maximum": MAX_INT_ID } ] })),
        "env": nullable(json!({ "type": "string", "enum": envs,
            "description": "The environment (tree) to change; the runner's default when absent" })),
        "description": nullable(json!({ "type": "string", "description": "One line on what the change does and why" })),
        "author": nullable(json!({ "type": "string", "description": "Who wrote the change (a model's name)" })),
        "validate": nullable(json!({ "description": "Commands to run in the tree after applying; the patch is \
            rolled back if one fails. Refused unless the operator set allow_patch_commands.",
            "anyOf": [ { "type": "string" }, { "type": "array", "items": { "type": "string" } } ] })),
    });
    if !hosts.is_empty() {
        let listed: Vec<&str> = hosts.iter().map(|h| h.as_str()).collect();
        common["callback_url"] = nullable(json!({ "type": "string", "format": "callback-url",
            "description": format!("An http(s) URL to POST the patch's record to once it settles; its host must \
                be one the environment lists in callback_hosts ({})", listed.join(", ")) }));
    }
    let with = |key: &str, schema: Value| {
        let mut props = common.clone();
        props[key] = schema;
        props
    };
    json!({
        "Envelope": { "oneOf": [
            { "type": "object", "title": "PatchText", "required": ["patch"], "additionalProperties": false,
              "properties": with("patch", json!({ "type": "string", "format": "patch-text",
                  "description": "The change as text: a unified diff (git-style or plain), a Codex apply_patch \
                      envelope (*** Begin Patch … *** End Patch) or SEARCH/REPLACE blocks" })) },
            { "type": "object", "title": "Operations", "required": ["operations"], "additionalProperties": false,
              "properties": with("operations", json!({ "type": "array", "minItems": 1,
                  "description": "Edits applied in order, all or none",
                  "items": { "oneOf": [
                      op("write", "Write the whole file, creating it or replacing it",
                         json!({ "contents": { "type": "string", "description": "The file's new text" }, "mode": mode(false) }),
                         &["contents"]),
                      op("create", "Create a file that must not exist yet",
                         json!({ "contents": { "type": "string", "description": "The file's text" }, "mode": mode(false) }),
                         &["contents"]),
                      op("replace", "Replace literal text",
                         json!({ "search": { "type": "string", "minLength": 1, "description": "The text to find, exactly" },
                                 "replace": { "type": "string", "description": "What replaces it" },
                                 "count": count.clone() }),
                         &["search", "replace"]),
                      op("regex", "Replace what a regular expression matches",
                         json!({ "pattern": { "type": "string", "format": "rust-regex",
                                     "description": "A regular expression in Rust regex syntax that cannot match the empty string" },
                                 "replacement": { "type": "string", "description": "What replaces each match; $1 names a group" },
                                 "count": count }),
                         &["pattern", "replacement"]),
                      op("delete", "Delete the file", json!({}), &[]),
                      op("move", "Move (rename) the file", json!({ "to": path("Where it goes") }), &["to"]),
                      op("chmod", "Change the file's permission bits", json!({ "mode": mode(true) }), &["mode"])
                  ] } })) }
        ] },
        "Receipt": { "type": "object", "required": ["id", "env", "state", "url"], "properties": {
            "id": { "type": "string", "description": "The patch's id" },
            "env": { "type": "string", "description": "The environment it is queued in" },
            "state": { "anyOf": [{ "$ref": "#/components/schemas/State" }, { "type": "null" }],
                "description": "null only for a replayed signed request whose patch has left the queue" },
            "url": { "type": "string", "description": "Where getPatch reads what became of it" } } },
        "State": { "type": "string", "enum": ["incoming", "pending", "approved", "applying", "applied", "failed"],
            "description": "pending/approved: waiting; applying: being applied; applied; failed: refused, rolled back or errored" },
        "PatchState": { "type": "object", "required": ["id", "env", "state", "url"], "properties": {
            "id": { "type": "string" }, "env": { "type": "string" },
            "state": { "$ref": "#/components/schemas/State" },
            "url": { "type": "string" },
            "result": { "type": ["object", "null"], "description": "null until applied or refused. outcome: \
                applied, already-applied, refused, rolled-back or error; reason: why not applied, with what to \
                resend; files: each path with lines added and removed; checks: each command, its exit code and \
                the head and tail of its output" },
            "summary": { "type": ["string", "null"], "description": "The same in Markdown" },
            "truncated": { "type": "string", "description": "Present when the answer was cut to fit; says where the rest is" } } },
        "Error": { "type": "object", "required": ["error"], "properties": {
            "error": { "type": "string", "description": "What is wrong and how to fix it" },
            "field": { "type": "string", "description": "The field at fault" } } }
    })
}

fn example_applied(base: &str) -> Value {
    json!({ "id": "add-greeting", "env": "main", "state": "applied", "url": format!("{base}/patches/add-greeting"),
        "result": { "outcome": "applied", "files": [{ "path": "src/hello.py", "action": "modify", "added": 1, "removed": 1 }],
                    "checks": [{ "command": "pytest -q", "exit_code": 0, "output": "3 passed\n" }] },
        "summary": "# Patch add-greeting: applied\n" })
}

fn example_refused(base: &str) -> Value {
    json!({ "id": "add-greeting", "env": "main", "state": "failed", "url": format!("{base}/patches/add-greeting"),
        "result": { "outcome": "refused", "reason": "src/hello.py: hunk 1: the lines it removes are not in the file as \
            the patch says (the file changed under the hunk, or the patch is for another file); nearest match: line 2 \
            reads \"    return 'hello'\" where the hunk has \"    return 'helo'\"\nclosest lines in src/hello.py:\n     \
            1 | def hello(name):\n     2 |     return 'hello'\nResend the whole patch with hunk 1 of src/hello.py rebuilt \
            from the file as it is now: copy its context and removed lines from the closest lines above (or send a \
            `write` operation with the whole new file)." },
        "summary": "# Patch add-greeting: refused, nothing changed\n" })
}
