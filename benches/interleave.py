#!/usr/bin/env python3
"""Time commands alternately, run by run, so that a disk or cache that drifts during a series
costs each command the same (hyperfine runs all of one command's runs before the next's).

    benches/interleave.py ROUNDS PREPARE NAME=COMMAND...

PREPARE runs (untimed) before every timed run. Prints mean, median, min and p90 per command.
"""
import statistics
import subprocess
import sys
import time

rounds, prepare = int(sys.argv[1]), sys.argv[2]
commands = [arg.split("=", 1) for arg in sys.argv[3:]]
times = {name: [] for name, _ in commands}
for r in range(rounds):
    # Rotate who goes first, so no command always follows the same one.
    for name, command in commands[r % len(commands):] + commands[: r % len(commands)]:
        subprocess.run(prepare, shell=True, check=True)
        start = time.perf_counter()
        subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL)
        times[name].append((time.perf_counter() - start) * 1000)
for name, ms in times.items():
    ms.sort()
    print(f"{name:>12}  mean {statistics.mean(ms):6.1f}  median {statistics.median(ms):6.1f}  "
          f"min {ms[0]:6.1f}  p90 {ms[int(len(ms) * 0.9)]:6.1f} ms  ({len(ms)} runs)")
