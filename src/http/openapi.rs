//! `GET /openapi.json`: OpenAPI 3.1 for `POST /webhook` and `GET /patches/{id}` with bearer
//! auth, ready to import as a custom GPT action (the server URL is `server.public_url`).

use serde_json::{Value, json};

pub fn document(base_url: &str) -> Value {
    let error = json!({ "$ref": "#/components/schemas/Error" });
    let err = |what: &str| json!({ "description": what, "content": { "application/json": { "schema": error } } });
    let receipt = json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Receipt" } } });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "runner",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Propose a code change to the operator's source tree. Every patch is checked, queued, \
                applied all-or-nothing (or refused with the reason), and can be followed with getPatch."
        },
        "servers": [{ "url": base_url }],
        "security": [{ "bearer": [] }],
        "paths": {
            "/webhook": {
                "post": {
                    "operationId": "queuePatch",
                    "summary": "Queue a patch for the operator's tree",
                    "description": "Send a JSON envelope with a unified diff (or Codex apply_patch text, or \
                        SEARCH/REPLACE blocks) in `patch`, or a list of `operations`. Reusing an id with the same \
                        body is safe (200); with a different body it is refused (409).",
                    "requestBody": { "required": true, "content": { "application/json": {
                        "schema": { "$ref": "#/components/schemas/Envelope" } } } },
                    "responses": {
                        "202": { "description": "Queued durably", "content": receipt },
                        "200": { "description": "Already received with this body", "content": receipt },
                        "400": err("Body is not JSON"),
                        "401": err("Missing or wrong credentials"),
                        "409": err("Id already used with a different body"),
                        "413": err("Body too large"),
                        "415": err("Not application/json"),
                        "422": err("Envelope invalid: see `field`"),
                        "429": err("Too many requests"),
                        "503": err("Runner is in lockdown, or the listener is full: retry after Retry-After")
                    }
                }
            },
            "/patches/{id}": {
                "get": {
                    "operationId": "getPatch",
                    "summary": "What became of a patch: state, result and summary",
                    "parameters": [
                        { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "env", "in": "query", "required": false, "schema": { "type": "string" } }
                    ],
                    "responses": {
                        "200": { "description": "The patch", "content": { "application/json": {
                            "schema": { "$ref": "#/components/schemas/PatchState" } } } },
                        "401": err("Missing or wrong credentials"),
                        "404": err("No such patch")
                    }
                }
            }
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Envelope": {
                    "type": "object",
                    "properties": {
                        "id": { "type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$",
                            "description": "Your id for this patch; generated when absent" },
                        "env": { "type": "string", "description": "Environment; the runner's default when absent" },
                        "description": { "type": "string" },
                        "author": { "type": "string" },
                        "callback_url": { "type": "string", "format": "uri",
                            "description": "Called back with the patch's record once it is applied or refused; the host must be allow-listed" },
                        "patch": { "type": "string", "description": "Unified diff, Codex envelope or SEARCH/REPLACE blocks" },
                        "operations": { "type": "array", "items": { "type": "object", "properties": {
                            "op": { "type": "string", "enum": ["write", "create", "replace", "regex", "delete", "move", "chmod"] },
                            "path": { "type": "string" }, "contents": { "type": "string" },
                            "search": { "type": "string" }, "replace": { "type": "string" },
                            "pattern": { "type": "string" }, "replacement": { "type": "string" },
                            "to": { "type": "string" }, "mode": { "type": "string" } }, "required": ["op", "path"] } }
                    }
                },
                "Receipt": { "type": "object", "properties": {
                    "id": { "type": "string" }, "env": { "type": "string" },
                    "state": { "type": ["string", "null"],
                        "enum": ["incoming", "pending", "approved", "applying", "applied", "failed", null],
                        "description": "null only for a replayed signed request whose patch has left the queue" },
                    "url": { "type": "string" } } },
                "PatchState": { "type": "object", "properties": {
                    "id": { "type": "string" }, "env": { "type": "string" }, "state": { "type": "string" },
                    "url": { "type": "string" },
                    "result": { "type": ["object", "null"], "description": "Outcome, files, checks and reason once applied or refused" },
                    "summary": { "type": ["string", "null"], "description": "Markdown summary" } } },
                "Error": { "type": "object", "properties": {
                    "error": { "type": "string" }, "field": { "type": "string" } }, "required": ["error"] }
            }
        }
    })
}
