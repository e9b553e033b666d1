"""quiet_machine.py — what every benchmark script waits for before it measures: a 1-minute
load average at or below a bound (BENCHMARKS.md: ratios only from runs started on a quiet
machine). Imported by scripts/bench_*.py."""
import sys
import time


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wait_quiet(max_load, wait, who):
    """Returns the load once it is at or below `max_load`; exits 3 after `wait` seconds above it."""
    start = time.time()
    while load1() > max_load:
        if time.time() - start > wait:
            print(f"{who}: the 1-minute load stayed above {max_load} for {wait} s ({load1():.2f}); not measuring",
                  file=sys.stderr)
            sys.exit(3)
        time.sleep(5)
    return load1()
