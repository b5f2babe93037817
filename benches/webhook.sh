#!/usr/bin/env bash
# Benchmark: `runner serve-webhook` against Debian's `webhook` (adnanh/webhook) on loopback.
#
#   benches/webhook.sh [SECONDS]        (default 10; needs wrk and webhook: apt-get install wrk webhook)
#
# wrk posts unique patch envelopes from 32 connections (benches/webhook-post.lua). runner
# answers 202 only after the patch file and its directory are fsynced; webhook runs a hook
# command that saves the body to a file and fsyncs it (`sync FILE`), answering after it ran
# (include-command-output-in-response), so both acknowledge only saved bodies. The script then
# checks that every acknowledged patch is on disk, and reads each server's idle RSS from /proc.
#
# Figures from `benches/webhook.sh 10` on the 2-core development VM, 2026-11-24, while five
# other agents were compiling (load average 6 to 16), so throughput and tail latency are the
# machine's as much as the servers'. Three runs on the VM's disk, then one with
# `TMPDIR=/dev/shm` (fsync costs nothing on tmpfs: what is left is the server's own overhead):
#   server                 accepted/s   p50      p99       idle RSS   RSS after   files/acked
#   runner serve-webhook   2662         10.2 ms  338 ms    4.6 MiB    6.3 MiB     26647/26615
#   runner serve-webhook   1768         15.1 ms  78.7 ms   4.9 MiB    6.8 MiB     17705/17675
#   runner serve-webhook   2377         11.1 ms  327 ms    5.3 MiB    7.5 MiB     23803/23771
#   runner, tmpfs          7303         -        27.3 ms   5.5 MiB    7.8 MiB     73046/73031
#   webhook 2.8.0          209          150 ms   274 ms    8.0 MiB    16.4 MiB    2126/2094
#   webhook 2.8.0          190          165 ms   317 ms    8.1 MiB    16.8 MiB    1922/1900
#   webhook 2.8.0          175          180 ms   350 ms    8.0 MiB    16.2 MiB    1783/1751
#   webhook, tmpfs         243          -        369 ms    7.7 MiB    16.6 MiB    2462/2431
# (files >= acked: wrk stops with requests in flight that the server still completed.)
# After the audit line became part of the acknowledgement (group commit: a 202 now waits for the
# patch, its directory and its batch of audit lines to be fsynced), on a quieter machine (load ~1):
#   runner serve-webhook   1685         -        69.1 ms   5.6 MiB    8.3 MiB     16880/16850
#   webhook 2.8.0          241          127 ms   309 ms    8.1 MiB    16.2 MiB    2435/2407
# Session 2, the machine otherwise idle (no other agent), release build, 2026-11-24:
#   per-request directory sync (before a3cb2b9), ad-hoc 8 s runs:  4,644-4,730/s, p99 15.5-16.9 ms
#   group-committed directory sync (a3cb2b9), same runs alternated: 5,110-5,117/s, p99 13.8-13.9 ms
#   `benches/webhook.sh 10`, WORK under /tmp:        4,736 / 4,761 / 2,956/s, p99 289 / 37.3 / 39.9 ms
#   `TMPDIR=/tmp/wb benches/webhook.sh 10`:          5,420 / 4,473/s,         p99 13.0 / 36.4 ms
#   webhook 2.8.0 in the same runs:                  433-510/s,               p99 113-234 ms
#   idle RSS 5.6-6.1 MiB (webhook 7.8-8.2 MiB).
# Session 3, the machine otherwise idle, 2026-11-24 05:56-07:32 UTC (runs 1 and 6 with
# TMPDIR=/tmp/wb3), runner / webhook 2.8.0:
#   run   accepted/s     p99 (ms)        idle RSS (KiB)
#   1     5376 / 447     13.7 / 121.6    5992 / 7980
#   2     5490 / 499     15.2 / 107.9    6052 / 8288
#   3     5149 / 440     15.2 / 147.4    6016 / 8328
#   4     5387 / 471     14.9 / 172.6    6000 / 8460
#   5     4604 / 476     30.0 / 113.6    5624 / 8080   60 s after 400,000 fixture files were deleted
#   6     4996 / 483     15.3 / 112.4    5756 / 7956
#   7     4762 / 459     16.3 / 168.1    5920 / 8384
#   8     5245 / 495     14.3 / 177.4    5956 / 8056
# The disk is a no-journal ext4 on a virtio disk: each new patch file is a new inode, and inode
# allocation slows down near directories where many files were just deleted (ext4 skips
# recently freed inodes; the previous run's cleanup and this session's 100,000-file fixtures
# in /tmp), so the tail swings between runs and between parent directories. Leave a minute
# between runs; TMPDIR chooses where the servers' work directories go.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN="${1:-10}"
CONNECTIONS=32
for tool in wrk webhook; do
    command -v "$tool" >/dev/null || { echo "benches/webhook.sh: needs $tool (apt-get install wrk webhook)" >&2; exit 2; }
done

cargo build --release --quiet
RUNNER="$PWD/target/release/runner"
LUA="$PWD/benches/webhook-post.lua"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# wrk's summary → "accepted/s p99"; accepted = requests minus non-2xx and socket errors.
run_wrk() {
    local url="$1" header="$2" out
    out="$(wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_TO_RUN}s" --latency -s "$LUA" "$url" -- "$header")"
    echo "$out" >&2
    echo "$out" | awk -v secs="$SECONDS_TO_RUN" '
        /requests in/ { total = $1 }
        /Non-2xx/ { bad += $NF }
        /Socket errors/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { gsub(",", "", $i); bad += $i } }
        $1 == "99%" { p99 = $2 }
        END { printf "%d %.0f %s\n", total - bad, (total - bad) / secs, p99 }'
}

# --- runner -----------------------------------------------------------------------------------
mkdir -p "$WORK/runner"
cat > "$WORK/runner/runner.toml" <<TOML
home = ".runner"
[env.main]
tree = "."
[server]
listen = "127.0.0.1:0"
token_env = "BENCH_TOKEN"
rate_limit = 0
TOML
(cd "$WORK/runner" && BENCH_TOKEN=bench-token exec "$RUNNER" serve-webhook >"$WORK/runner.out" 2>"$WORK/runner.log") &
PIDS+=($!)
RUNNER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/runner.out" ] && break; sleep 0.05; done
ADDR="$(sed -n 's/^listening on //p' "$WORK/runner.out")"
sleep 1
RUNNER_IDLE="$(rss_kib "$RUNNER_PID")"
read -r R_OK R_RATE R_P99 < <(run_wrk "$ADDR/webhook" "Authorization: Bearer bench-token")
sleep 1
RUNNER_AFTER="$(rss_kib "$RUNNER_PID")"
R_FILES="$(find "$WORK/runner/.runner/main/patches/pending" -name '*.json' | wc -l)"

# --- webhook (adnanh) -------------------------------------------------------------------------
mkdir -p "$WORK/hook/saved"
cat > "$WORK/hook/save.sh" <<'SH'
#!/bin/sh
f="$(dirname "$0")/saved/$(date +%s%N)-$$.json"
printf '%s' "$1" > "$f" && sync "$f"
SH
chmod +x "$WORK/hook/save.sh"
cat > "$WORK/hook/hooks.json" <<JSON
[{ "id": "save", "execute-command": "$WORK/hook/save.sh", "include-command-output-in-response": true,
   "pass-arguments-to-command": [{ "source": "entire-payload" }] }]
JSON
HOOK_PORT=$((20000 + RANDOM % 20000))
webhook -ip 127.0.0.1 -port "$HOOK_PORT" -hooks "$WORK/hook/hooks.json" >"$WORK/hook.log" 2>&1 &
PIDS+=($!)
HOOK_PID=$!
sleep 1
HOOK_IDLE="$(rss_kib "$HOOK_PID")"
read -r H_OK H_RATE H_P99 < <(run_wrk "http://127.0.0.1:$HOOK_PORT/hooks/save" "X-Bench: 1")
sleep 1
HOOK_AFTER="$(rss_kib "$HOOK_PID")"
H_FILES="$(find "$WORK/hook/saved" -name '*.json' | wc -l)"

printf '\n%-22s %12s %10s %14s %16s %12s\n' "server" "accepted/s" "p99" "idle RSS KiB" "RSS after KiB" "files/acked"
printf '%-22s %12s %10s %14s %16s %12s\n' "runner serve-webhook" "$R_RATE" "$R_P99" "$RUNNER_IDLE" "$RUNNER_AFTER" "$R_FILES/$R_OK"
printf '%-22s %12s %10s %14s %16s %12s\n' "webhook $(webhook -version | awk '{print $3}')" "$H_RATE" "$H_P99" "$HOOK_IDLE" "$HOOK_AFTER" "$H_FILES/$H_OK"
if [ "$R_FILES" -lt "$R_OK" ]; then
    echo "runner acknowledged $R_OK patches but only $R_FILES are on disk" >&2
    exit 1
fi
