#!/usr/bin/env bash
# Benchmark: the model's round trip on loopback. A one-file patch posted with `?wait=10`, from
# 1, 8 and 32 concurrent clients, timed from the request to the settled verdict (a 200 whose
# state is `applied`); then the same verdict with apply on arrival off, where cron's sweep (one
# run a minute) applies it.
#
#   benches/roundtrip.sh [REQUESTS_PER_LEVEL]     (default 200; RUNNER_BIN picks the binary,
#                                                  default target/release/runner)
#
# Every request is a new patch (its own id and file). The cron figure is computed, not waited
# for: a patch arrives at a uniformly random moment of the minute, so it waits 30 s at the median
# and 59.4 s at p99 for the next sweep, plus the sweep's own run, which is measured here on a
# queue of 8 patches.
#
# Figures: see the end of the file (appended by hand from runs of this script).
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS="${1:-200}"
BIN="${RUNNER_BIN:-target/release/runner}"
[ -x "$BIN" ] || { echo "benches/roundtrip.sh: build $BIN first (cargo build --release)" >&2; exit 2; }
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/roundtrip.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

start_server() { # $1: apply_on_receive
    rm -rf "$WORK/home" "$WORK/tree"
    mkdir -p "$WORK/tree"
    cat >"$WORK/runner.toml" <<EOF
home = "home"
[server]
token_env = "BENCH_TOKEN"
rate_limit = 0
threads = 16
apply_on_receive = $1
[env.main]
tree = "tree"
EOF
    BENCH_TOKEN=bench "$BIN" --config "$WORK/runner.toml" serve-webhook --listen 127.0.0.1:0 \
        >"$WORK/out" 2>"$WORK/err" &
    SERVER_PID=$!
    for _ in $(seq 100); do grep -q listening "$WORK/out" 2>/dev/null && break; sleep 0.05; done
    ADDR="$(sed -n 's/^listening on http:\/\///p' "$WORK/out")"
}

stop_server() {
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}

echo "runner round trip on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $BIN"
echo "clients  requests  p50 (ms)  p99 (ms)  max (ms)  applied  apply runs so far"
start_server true
for clients in 1 8 32; do
    python3 - "$ADDR" "$clients" "$REQUESTS" <<'PY'
import http.client, json, sys, threading, time, uuid
addr, clients, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
host, port = addr.rsplit(":", 1)
times, applied, lock = [], [0], threading.Lock()
def client(n):
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    for _ in range(n):
        pid = "rt-" + uuid.uuid4().hex[:12]
        body = json.dumps({"id": pid, "description": "bench",
                           "operations": [{"op": "write", "path": f"bench/{pid}.txt", "contents": pid + "\n"}]})
        t0 = time.perf_counter()
        conn.request("POST", "/webhook?wait=10", body,
                     {"Authorization": "Bearer bench", "Content-Type": "application/json"})
        r = conn.getresponse()
        answer = json.loads(r.read())
        took = (time.perf_counter() - t0) * 1000
        with lock:
            times.append(took)
            applied[0] += r.status == 200 and answer.get("state") == "applied"
per = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
threads = [threading.Thread(target=client, args=(n,)) for n in per]
for t in threads: t.start()
for t in threads: t.join()
times.sort()
q = lambda p: times[min(len(times) - 1, int(p * len(times)))]
print(f"{clients:>7}  {len(times):>8}  {q(0.50):>8.1f}  {q(0.99):>8.1f}  {times[-1]:>8.1f}  {applied[0]:>7}", end="")
PY
    echo "  $(grep -c '"event":"apply-run"' "$WORK/err")"
done
stop_server

# Cron's sweep: 8 patches queued with apply on arrival off, then one `apply-patch` run, timed.
start_server false
for i in $(seq 8); do
    curl -s -o /dev/null -H "Authorization: Bearer bench" -H "Content-Type: application/json" \
        -d "{\"id\":\"cron-$i\",\"operations\":[{\"op\":\"write\",\"path\":\"cron/$i.txt\",\"contents\":\"$i\\n\"}]}" \
        "http://$ADDR/webhook"
done
stop_server
t0=$(date +%s%N)
"$BIN" --config "$WORK/runner.toml" -q apply-patch
sweep_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "cron sweep (once a minute): one run of 8 queued patches took ${sweep_ms} ms;"
echo "  request -> verdict p50 ~ $((30000 + sweep_ms)) ms, p99 ~ $((59400 + sweep_ms)) ms"

# Figures (2-core VM shared with other agents' builds, so the tail is the machine's as much as
# runner's):
# 2026-12-01 13:07 UTC, release build, load average 8-9 from other agents' builds on 2 cores,
# `benches/roundtrip.sh 200`, two runs back to back:
#   clients   p50 (ms)      p99 (ms)       apply runs (for 200 posts)
#   1         61.1 / 73.3   102.3 / 193.6  200 / 200   (each post finds no run under way)
#   8         264.5 / 345.0 331.4 / 460.1  28 / 28
#   32        798.5 / 1157  1404 / 1642    8 / 8
#   cron: one sweep of 8 patches 415 / 504 ms; request -> verdict p50 ~30.4 s, p99 ~59.8 s.
# (An earlier run at load 7, polling the queue every 100 ms at most: 44.5 / 328 / 1073 ms p50.)
# The goal (p50 < 50 ms, p99 < 250 ms at 8 clients) is not met on this machine: a run applies
# its patches one after another at about 35-60 ms each (backup, journal, files, result, summary,
# queue moves and audit line, each fsynced), so 8 clients queue behind each other's patches.
# The round trip itself (post, fsync, start the run, answer) is what the 1-client row shows.
