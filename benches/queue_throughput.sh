#!/usr/bin/env bash
# Queue throughput: N small patches (default 10000) queued in pending/, then ONE
# `runner apply-patch` run applies them all with every durable step (claim, backup, journal,
# file write, result, summary, move, audit line), timed with /usr/bin/time.
#
#   benches/queue_throughput.sh            # N=10000
#   N=2000 benches/queue_throughput.sh
#
# Prints patches/minute. Needs a release build (made here).
#
# Figures (2 cores shared with five other agents' builds, ext4; per patch: 15 fsyncs + 1
# fdatasync in 11 serial flush rounds, the rest overlapped):
#   10000 patches in 49.04 s: 12235 patches/minute   load ~1-2, a small fsync ~0.5 ms
#   10000 patches in 59.73 s: 10045 patches/minute   load ~2.4, 12 rounds (before the claim's
#                                                    flush overlapped the backup's)
#   10000 patches in 86.06 s: 6972 patches/minute    load ~2.5, 13 rounds
#   10000 patches in 284.48 s: 2109 patches/minute   load 7-13 from other builds, fsync 1.4-4.3 ms
#   10000 patches in 17.04 s: 35211 patches/minute   TMPDIR=/dev/shm (tmpfs: flushes cost nothing)
#   10000 patches in 41.82 s: 14347 patches/minute   session 4 (2026-11-24), machine otherwise idle
#                                                    (files staged and flushed on threads)
# The disk's fsync latency decides the figure: about 11 of them a patch, one after another.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000}
FILES=${FILES:-100}

cargo build --release --quiet
BIN=$PWD/target/release/runner
WORK=$(mktemp -d "${TMPDIR:-/tmp}/runner-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$WORK/tree" "$WORK/.runner/main/patches/pending"
printf '[env.main]\ntree = "tree"\n' >"$WORK/runner.toml"
for ((f = 0; f < FILES; f++)); do
    printf 'file %d\n' "$f" >"$WORK/tree/f$f.txt"
done
# Each patch rewrites one of FILES small files; ids are zero-padded so they sort in order.
for ((i = 0; i < N; i++)); do
    id=$(printf 'p%06d' "$i")
    printf '{"id":"%s","operations":[{"op":"write","path":"f%d.txt","contents":"patch %d\\n"}]}\n' \
        "$id" $((i % FILES)) "$i" >"$WORK/.runner/main/patches/pending/$id.json"
done
sync

cd "$WORK"
/usr/bin/time -f '%e %M' -o time.txt "$BIN" --quiet apply-patch
read -r secs maxrss_kb <time.txt
applied=$(find .runner/main/patches/applied -name '*.json' | wc -l)
results=$(find .runner/main/results -name '*.json' | wc -l)
[[ $applied == "$N" && $results == "$N" ]] || { echo "only $applied applied, $results results of $N" >&2; exit 1; }
awk -v n="$N" -v s="$secs" -v rss="$maxrss_kb" \
    'BEGIN { printf "%d patches in %.2f s: %.0f patches/minute (max RSS %.1f MiB)\n", n, s, n * 60 / s, rss / 1024 }'
