#!/usr/bin/env bash
# What the test suite needs beyond the Rust toolchain, installed idempotently: Debian's Chromium and
# ChromeDriver for the browser tests, mandoc and fish for the man page and completion tests, and a Python virtual environment (.venv) with selenium and
# schemathesis. Sourced by .ci/run; run it once by hand before `cargo test` on a fresh machine.
# The tests find the interpreter through RUNNER_PYTHON (default: .venv/bin/python).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "== installing chromium and chromium-driver"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver
fi

if ! command -v mandoc >/dev/null 2>&1 || ! command -v fish >/dev/null 2>&1; then
    echo "== installing mandoc and fish"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mandoc fish
fi

if [ ! -x "$root/.venv/bin/python" ]; then
    echo "== creating .venv"
    python3 -m venv "$root/.venv"
fi
if ! "$root/.venv/bin/python" -c 'import selenium, schemathesis' >/dev/null 2>&1; then
    echo "== installing selenium and schemathesis into .venv"
    "$root/.venv/bin/python" -m pip install -q --disable-pip-version-check selenium schemathesis
fi
export RUNNER_PYTHON="$root/.venv/bin/python"
