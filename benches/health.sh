#!/usr/bin/env bash
# Benchmarks for health-check and watchdog (issue 5). Builds the release binary, then measures:
#   1. `runner health-check` with ten healthy HTTP targets on loopback (target: < 50 ms)
#   2. `runner --version` and a no-op `runner watchdog` cycle (what cron pays every minute)
#   3. time from killing a component to it running and healthy again: one watchdog cycle plus
#      the component's own start time (a python3 http.server behind an http check)
# Needs hyperfine and python3. Usage: benches/health.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 2; }

cargo build --release --quiet
runner=$PWD/target/release/runner
dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [[ -f $dir/.runner/state/web.pid ]] && kill -- "-$(cat "$dir/.runner/state/web.pid")" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir"

# Ten tiny HTTP servers in one python process, on ports the kernel picks.
cat > servers.py <<'PY'
import http.server, socketserver, threading, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
socketserver.ThreadingTCPServer.allow_reuse_address = True
ports = []
for _ in range(10):
    s = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H); s.daemon_threads = True
    ports.append(s.server_address[1]); threading.Thread(target=s.serve_forever, daemon=True).start()
print(" ".join(map(str, ports)), flush=True)
threading.Event().wait()
PY
python3 servers.py > ports.txt &
pids+=($!)
for _ in $(seq 50); do [[ -s ports.txt ]] && break; sleep 0.1; done
read -r -a ports < ports.txt

web_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
    for i in "${!ports[@]}"; do
        printf '[[check]]\nname = "t%s"\nhttp = "http://127.0.0.1:%s/health"\n\n' "$i" "${ports[$i]}"
    done
    printf '[[check]]\nname = "web"\nhttp = "http://127.0.0.1:%s/"\ntimeout = "1s"\n\n' "$web_port"
    printf '[[component]]\nname = "web"\ncheck = "web"\nstart = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "%s"]\n' "$web_port"
    printf 'backoff = "0s"\nmax_restarts = 1000\nstart_timeout = "10s"\n'
} > runner.toml
checks=$(printf 't%s ' "${!ports[@]}")

"$runner" health-check $checks >/dev/null
"$runner" watchdog >/dev/null   # starts the component once

hyperfine --warmup 3 --runs "$runs" -N \
    "$runner health-check $checks" \
    "$runner --version" \
    "$runner watchdog"

# Kill → healthy: kill the component, run one watchdog cycle, measure until it reports healthy.
echo
echo "kill to healthy (python3 -m http.server component, $runs rounds):"
total=0; worst=0
for _ in $(seq "$runs"); do
    kill -9 "$(cat .runner/state/web.pid)"
    start=$(date +%s%N)
    "$runner" watchdog >/dev/null
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    total=$((total + ms)); (( ms > worst )) && worst=$ms
done
echo "  mean $((total / runs)) ms, worst $worst ms (one watchdog cycle, including the server's start)"
