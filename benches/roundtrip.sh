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
# runner's). 2026-12-01 13:49-13:56 UTC, release builds, `benches/roundtrip.sh 100`, the build
# before this change (fbbe105, "before") and after it ("after") run alternately, 10 pairs, load
# average 4.5-5.8; p50 / p99 in ms, each cell the median of the 10 runs and their range:
#   clients   before p50          after p50          before p99           after p99
#   1         23.4 (16.5-41.5)    28.9 (15.6-57.2)   66.5 (30.7-261)      67.7 (32.6-266)
#   8         142  (77-319)       90.1 (55.8-211)    215  (113-515)       163  (84.5-498)
#   32        511  (300-997)      298  (213-718)     613  (359-2318)      476  (276-921)
#   cron: one sweep of 8 patches before 83-439 ms (median 152), after 60-284 ms (median 79);
#   request -> verdict about 30 s at the median and 60 s at p99 either way.
# Earlier (13:07 UTC, load 8-9, before): 8 clients p50 265-345 ms, p99 331-460 ms.
# The goal (p50 < 50 ms, p99 < 250 ms at 8 clients) is met for p99 in 7 runs of 10 and missed
# for p50 (56 ms at best). Where the time goes, by `strace -f -c` of one run of 8 one-file patches
# (`-q apply-patch` on a queue of 8): before, 132 fsyncs + 8 fdatasyncs, 72 threads started,
# 513 voluntary context switches, 0.26-0.41 s wall for 0.04 s of CPU: the run waits, it does not
# compute, and on a loaded machine every wait costs a turn on the CPU. After, 106 fsyncs + 1
# fdatasync, 18 threads, ~350 switches. Per patch what is left is the apply itself: 9 fsyncs
# (claim: applying/; backup: backups/ twice, pending/, manifest, its directory; journal:
# applying/; the file and its directory), then per pass one settle for all its patches (results
# and summaries flushed together, 2 directory syncs for the moves, one audit append). 8 clients
# each waiting for its verdict keep at most 8 patches queued, so p50 is about 8 x the per-patch
# time; below 50 ms needs the apply phase itself shared across patches (one backup flush and one
# journal for a pass), which is journal/backup work.
# Later the same day, every other build stopped (14:13-14:16 UTC, load average 1.7-2.1), after
# backups/ is synced once per patch instead of twice (8 fsyncs a patch): 7 runs of
# `benches/roundtrip.sh 100`, p50 / p99 in ms:
#   1 client    12.9-19.3 / 24.0-41.9
#   8 clients   37.3-72.7 (median 61) / 53.7-118 (median 79)
#   32 clients  124-284 / 170-405
# p99 < 250 ms at 8 clients holds in every run; p50 < 50 ms in 1 run of 7. The disk's fsync
# latency swings run to run on this VM; the per-patch fsyncs are what is left to share.
