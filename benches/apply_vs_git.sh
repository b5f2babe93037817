#!/usr/bin/env bash
# Direct-mode apply of a large real diff, side by side with `git apply` and GNU `patch`.
#
# The diff: syn 2.0.60 -> 2.0.119 from crates.io (`diff -ruN`, 95 files, 2236 hunks, 42k lines),
# applied with -p1 to a fresh copy of 2.0.60 before every run (hyperfine --prepare). All three
# tools are first checked to produce exactly the 2.0.119 tree.
#
# Figures (2-core VM shared with two other agents' builds; release build; mean ± σ of RUNS=30;
# three back-to-back runs at 04:40 UTC, load average 2.4-2.9):
#   ext4 (default, /tmp)          runner 41.9 / 54.0 / 64.3 ms   git apply 40.1 / 48.3 / 37.4 ms
#                                 (σ 5-6 ms each; an earlier run at load 2.7: runner 33.3, git 31.5)
#   tmpfs (BENCH_DIR=/dev/shm)    runner 24.9 ± 1.8 ms   git apply 24.1 ± 0.6 ms   (40 runs, load 2.3)
#   `--check` (reads only)        runner 16.9 ± 0.6 ms   git apply --check 22.3 ± 0.6 ms
# Before this round: ext4 47-68 ms, tmpfs 33.3 ms, --check 26.6 ms (same hour, same machine).
# runner's CPU is now below git's (user ~10 ms vs ~15 ms; 72 M instructions for `--check`, was
# 156 M). What remains on ext4 is durability: two rounds of flushes git apply and patch do not
# make (fsync of the 93 new files, together, then of the 10 directories renamed into), whose
# cost depends on whatever else is writing to the same disk.
# The machine otherwise idle (05:39 UTC, load < 1), RUNS=30-40, runner / git apply / patch:
#   BENCH_DIR=/tmp/wb   40.6 ± 3.3 / 42.5 ± 5.5 / 41.6 ms;  48.3 ± 16.1 / 36.2 / 36.0;  78.8 ± 79 / 38.1 / 32.8
#   /tmp                40.1 ± 2.4 / 37.4 ± 3.8 / 40.3 ms;  96.7 ± 9.3 / 63.3 / 46.5 (right after
#                       100,000 files were deleted nearby: ext4 without a journal skips recently
#                       freed inodes when it allocates, and runner allocates 93 temp files)
# System time is runner's remaining gap: 30-40 ms against git's 21-25 ms. One syncfs in place of
# the fsyncs was tried again and is slower (65.6 vs 50.8 ms): it also flushes other writers' data.
# Session 3 (2026-11-24, machine otherwise idle): each file now costs fewer system calls (open
# with O_NOFOLLOW and fstat the open file instead of lstat + stat + open, one read of the stated
# size, no chmod unless the umask narrowed the mode, the pid asked once): per apply, statx
# 676 -> 392, read 355 -> 193, fchmod and getpid 93 -> 0 (`strace -f -c`). RUNS=40, runner / git:
#   06:12 (before)  26.4 ± 2.4 / 24.2 ± 0.8 ms     06:26 (after)  28.9 ± 1.8 / 28.9 ± 2.7 ms
#   07:11           46.2 ± 4.1 / 40.2 ± 1.0 ms     07:33          42.5 ± 4.4 / 41.4 ± 3.2 ms
#   07:35           41.3 ± 2.6 / 38.7 ± 5.5 ms
# System time is still the gap (32-37 ms against 21-26): creating the temp files costs both tools
# the same (perf: a third of either's CPU is inode allocation, swollen by the prepare step's
# rm -rf), and what is left is runner's writeback, fsyncs and unchanged-check reads. This VM also
# runs DAMON proactive reclaim, which drops page cache idle for 60 s, so runs swing.
#
# Session 4 (2026-11-24, machine otherwise idle). What changed: each file is created, written
# and fsynced on one of 8 threads (was: written in turn, then fsynced together); each replaced
# file is held open through its rename and closed on closer threads, because on this
# `discard`-mounted ext4 the last close of a removed file waits for the device to discard its
# blocks (that wait was 8-10 ms inside the rename loop); a hunk keeps its lines in one string;
# vectors are sized up front; no regex for hunk headers. --check: 16.9 -> 12.2-14.4 ms.
# The prepare step now syncs the copy: without it, the old files have no blocks on disk yet
# (delayed allocation), so deleting them costs git nothing while a real checkout's files do
# cost a discard each. RUNS=40, hyperfine mean / alternated median (benches/interleave.py):
#   08:38  runner 26.9 / 33.6 ms   git apply 31.8 / 39.9 ms   patch 34.9 / 42.5 ms
#   08:44  runner 25.5 / 34.1 ms   git apply 35.8 / 38.5 ms   patch 37.0 / 40.1 ms
#   08:50  runner 29.2 / 32.1 ms   git apply 32.4 / 36.7 ms   patch 34.5 / 36.0 ms  (closer
#          queue bounded to 32 files, so a huge patch holds few descriptors)
# The old prepare (no sync), alternated, 40 rounds: runner 30.8, git apply 26.2 ms (session 3's
# build 35.8). tmpfs (/dev/shm), alternated: runner 19.0, git apply 25.3 ms.
# Session 5 (2026-12-01 14:15 UTC, load average 2; after the fence's symlink-safe writes and the
# damaged-patch rules): RUNS=30, hyperfine mean / alternated median, runner / git apply / patch:
#   runner 62.9 ± 5.4 / 74.9 ms   git apply 60.3 ± 3.3 / 72.3 ms   patch 73.7 / 81.1 ms
# and on a copy of the same trees in /tmp/sb a minute later (25 runs): runner 55.9 ± 6.2 ms, the
# session-4 build 54.1 ± 6.4, git apply 61.6 ± 11.9: within the noise of git apply. `--check`
# (CPU only) is 26.0 ± 2.7 ms against 18.6 ± 2.1 for the session-4 build and 31.8 ± 4.0 for
# `git apply --check`: the new rules cost about 6 ms of CPU on 2,236 hunks (perf: allocation,
# text decoding and the placeholder scan of comment lines, each a few percent).
#
# Usage: benches/apply_vs_git.sh   (needs cargo with crates.io access once, hyperfine, python3,
# git, patch; NO_TIMING=1 skips the timing)
set -euo pipefail
cd "$(dirname "$0")/.."

OLD=${OLD:-2.0.60}
NEW=${NEW:-2.0.119}
RUNS=${RUNS:-30}

command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install -y hyperfine)" >&2; exit 2; }
cargo build --release --quiet
runner=$PWD/target/release/runner

# BENCH_DIR=/dev/shm measures on tmpfs, where fsync costs nothing (git and patch do not fsync;
# runner makes every file durable before it reports success).
work=$(mktemp -d -p "${BENCH_DIR:-${TMPDIR:-/tmp}}")
trap 'rm -rf "$work"' EXIT

# Each version through a scratch project, so cargo puts its source in the registry.
fetch() {
    local dir="$work/fetch-$1"
    mkdir -p "$dir/src"
    : >"$dir/src/lib.rs"
    printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nsyn = "=%s"\n' "$1" >"$dir/Cargo.toml"
    (cd "$dir" && cargo fetch --quiet)
    cp -r "$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/syn-"$1" | head -1)" "$work/$2"
}
fetch "$OLD" old
fetch "$NEW" new
(cd "$work" && diff -ruN old new >big.diff) || [ $? -eq 1 ]
echo "diff: $(grep -c '^diff ' "$work/big.diff") files, $(grep -c '^@@' "$work/big.diff") hunks, $(wc -l <"$work/big.diff") lines"

fresh() { rm -rf "$work/tree" && cp -r "$work/old" "$work/tree"; }
for tool in runner git patch; do
    fresh
    case $tool in
        runner) "$runner" apply-patch --tree "$work/tree" -p1 "$work/big.diff" ;;
        git) (cd "$work/tree" && git apply -p1 "$work/big.diff") ;;
        patch) patch -d "$work/tree" -p1 -s -i "$work/big.diff" ;;
    esac
    diff -r "$work/tree" "$work/new" >/dev/null || { echo "$tool did not produce $NEW" >&2; exit 1; }
done

# Before every timed run: a fresh copy of the old tree, written out (`sync`) so that it is at rest
# on the disk like a real checkout, and runner's fsyncs do not also write the copy's dirty blocks.
prepare="rm -rf $work/tree && cp -r $work/old $work/tree && sync"
if [ -z "${NO_TIMING:-}" ]; then
    hyperfine -N --warmup 3 --runs "$RUNS" --prepare "sh -c '$prepare'" \
        -n "runner apply-patch --tree" "$runner apply-patch --tree $work/tree -p1 $work/big.diff" \
        -n "git apply" "git -C $work/tree apply -p1 $work/big.diff" \
        -n "patch -p1" "patch -d $work/tree -p1 -s -i $work/big.diff"
    # hyperfine times each command's runs in one block; a disk that drifts through the series
    # (see above) then favours whichever goes first. The same, alternated run by run:
    python3 benches/interleave.py "$RUNS" "$prepare" \
        "runner=$runner apply-patch --tree $work/tree -p1 $work/big.diff" \
        "git apply=git -C $work/tree apply -p1 $work/big.diff" \
        "patch=patch -d $work/tree -p1 -s -i $work/big.diff"
fi

# The same diff with every line number removed (`@@ @@`, as models often write hunks), one file
# at a time: each must apply exactly right or be refused as ambiguous, never land elsewhere.
# Last run: 88 files applied right, 7 refused, 0 wrong.
mkdir "$work/bare"
sed -E 's/^@@ -[0-9]+(,[0-9]+)? \+[0-9]+(,[0-9]+)? @@.*/@@ @@/' "$work/big.diff" |
    awk -v dir="$work/bare" '/^diff -ruN /{n++} n{print > (dir "/" n ".diff")}'
right=0 refused=0 wrong=0
for one in "$work"/bare/*.diff; do
    fresh
    path=$(sed -n '1s/^diff -ruN [^ ]* new\///p' "$one")
    if "$runner" apply-patch --tree "$work/tree" -p1 "$one" 2>/dev/null; then
        if cmp -s "$work/tree/$path" "$work/new/$path" || { [ ! -e "$work/tree/$path" ] && [ ! -e "$work/new/$path" ]; }; then
            right=$((right + 1))
        else
            wrong=$((wrong + 1))
            echo "applied wrongly: $path" >&2
        fi
    else
        refused=$((refused + 1))
    fi
done
echo "without line numbers: $right files applied right, $refused refused as ambiguous, $wrong wrong"
[ "$wrong" -eq 0 ]
