#!/usr/bin/env bash
# Benchmarks for gen-docs and archive-summaries (issue 6), on a release build:
#   1. gen-docs over an environment with N patch records (first run, writes everything);
#   2. gen-docs again with nothing changed (must write no file: checked via mtimes);
#   3. gen-docs --check on the unchanged store;
#   4. archive-summaries --dry-run over N summaries, then the real run that moves them all.
# Usage: benches/docs.sh [N]   (default 100000). Prints /usr/bin/time's wall clock and peak RSS.
#
# Figures, `bash benches/docs.sh 100000`, shared 2-core VM, ext4 (wall, user, sys; runs vary by
# +-15% with the machine's load):
#   before (13598f8):  gen-docs first 2.26 s (1.60, 2.30); second 1.93 s; archive 3.16 s (0.37, 2.72)
#   after, 3 runs:     gen-docs first 2.54 / 2.11 / 2.90 s; second 1.57 / 1.63 / 2.13 s;
#                      archive 2.62 / 2.90 / 2.79 s (0.37-0.43, 2.31-2.51); dry-run 0.42-0.44 s
# archive-summaries is now one renameat2 per file plus one stat; the rest is the kernel's rename.
#   issue 6, session 2 (link + fsync per 2,048 + unlink on a second thread; gen-docs lists each
#   directory once less and streams the manifest's patches), 3 runs, load 3.4-6.0 / 6.0-2.0 / 2.0-1.3:
#                      gen-docs first 2.37 / 1.70 / 2.16 s (user 1.16-1.48, sys 1.63-2.10, RSS 300 MiB);
#                      second 1.43 / 1.54 / 1.80 s; archive 3.52 / 2.20 / 2.15 s (0.40-0.56, 2.46-2.55);
#                      dry-run 0.42-0.45 s. Syscalls (strace -f -c): archive 100k renameat2 + 100k statx
#                      -> 100k linkat + 100k unlinkat + 100k fstatat + 100k statx + 55 fsync; gen-docs
#                      getdents64 1159 -> 805, page faults 97.5k -> 83.4k.
#                      One more archive run on a copied fixture at load 1.1: 2.23 s (0.53, 2.48); the
#                      link thread (~1.5 s of linkat) plus the plan (0.4 s) is the floor of this scheme.
#   after merging, the machine otherwise idle (05:35 and 05:42 UTC, load < 2 at the start):
#                      gen-docs first 1.79 / 2.19 s (user 1.17-1.41, sys 1.92-2.39); second 1.45 / 1.58 s;
#                      --check 1.39 / 1.38 s; archive 1.99 / 2.12 s (0.48-0.51, 2.23-2.35); dry-run 0.38-0.42 s.
# Session 3, 2026-11-24 (results sized from their reads, archive planned on its own thread in
# batches while earlier batches are linked and unlinked; gen-docs first / second / --check,
# archive; the machine otherwise idle unless noted):
#   06:03 before these changes    1.89 / 1.70 / 1.26 s, archive 1.96 s
#   06:34 load 2.8 (builds)       2.04 / 1.76 / 1.66 s, archive 2.41 s (before the pipeline)
#   06:51                         1.90 / 1.49 / 1.36 s, archive 1.76 s
#   07:13 30 s pause, no warm-up  2.33 / 1.55 / 1.51 s, archive 1.76 s (results paged out by DAMON)
#   07:18 COLD=1, load 10 before  2.10 / 1.68 / 1.79 s, archive 1.86 s; caches dropped: 4.33 s
#   07:26 warm, quiet             1.65 / 1.51 / 1.39 s, archive 1.83 s; dry run 0.39 s
#   07:38 warm, quiet             1.92 / 1.84 / 1.48 s, archive 1.73 s; dry run 0.36 s
#   07:51 warm, quiet, final      1.36 / 1.28 / 1.31 s (RSS 297 MiB), archive 1.91 s; dry run 0.36 s
# A/B on one warm fixture (6 alternating runs each): INDEX.md entries without their own path
# and names moved, not cloned: first run 1.28 -> 1.26 s, unchanged run 1.26 -> 1.21 s (median).
# With every cache dropped gen-docs takes 3.3-4.3 s, nearly all of it the kernel reading 300,000
# inodes and 100,000 results back (sys 4.3-5.4 s), whatever the number of reader threads.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --release --quiet
cargo bench --quiet --bench docs_fixture -- "$WORK" "$N"
RUNNER=$PWD/target/release/runner
cd "$WORK"

measure() {
    local label=$1
    shift
    /usr/bin/time -f "$label: %e s wall, %U s user, %S s sys, %M KiB max RSS" "$RUNNER" --config runner.toml "$@" >/dev/null
}

# This VM runs DAMON proactive reclaim (a kdamond pages out memory idle for 60 s), so part of the
# fixture is out of the page cache by the time its build ends, and a run would measure the disk.
# Warm the cache first as a store that cron visits is warm: read the results gen-docs reads, stat
# what it stats. COLD=1 (as root) also measures a run after dropping every cache.
warm() {
    find home/main/results -type f -print0 | xargs -0 cat >/dev/null
    find home/main/summaries home/main/patches -printf '%s\n' >/dev/null
}
sync
warm
measure "gen-docs, first run ($N records)" gen-docs
before=$(find home/main -name INDEX.md -o -name README.md -o -name patch-manifest.json | xargs stat -c '%n %Y.%y' | sort)
measure "gen-docs, second run, nothing changed" gen-docs
after=$(find home/main -name INDEX.md -o -name README.md -o -name patch-manifest.json | xargs stat -c '%n %Y.%y' | sort)
if [ "$before" != "$after" ]; then
    echo "FAIL: the second gen-docs run rewrote a file" >&2
    exit 1
fi
echo "second run wrote no file ($(echo "$after" | wc -l) generated files unchanged)"
measure "gen-docs --check, nothing changed" gen-docs --check
if [ -n "${COLD:-}" ]; then
    sync && echo 3 >/proc/sys/vm/drop_caches
    measure "gen-docs, nothing changed, caches dropped" gen-docs
    warm
fi
echo "manifest: $(stat -c %s home/main/patch-manifest.json) bytes"
measure "archive-summaries --dry-run ($N summaries)" archive-summaries --dry-run
measure "archive-summaries (moves $N summaries)" archive-summaries
echo "archived: $(find home/main/summaries/.archive -name '*.md' | wc -l)"
