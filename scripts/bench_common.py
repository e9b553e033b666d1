"""bench_common.py — what the comparison scripts (scripts/bench_*.py) share.

Every measurement runs in its own process, started only once the machine is quiet
(quiet_machine.wait_quiet: 1-minute load at or below --max-load, else exit 3 after
--wait seconds); the load at its start is recorded. `Session` does that and keeps
the record; `Session.report` prints the Markdown for BENCHMARKS.md — the exact
command, the dates, the loads and the tables — on stdout (progress goes to
stderr) and writes it and the JSON record to --markdown / --json.

Nothing here builds: the release binaries must exist (`swift build -c release`).
"""
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

from quiet_machine import load1, wait_quiet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def binary(name):
    """Path of a release binary of this checkout (.build/release/NAME)."""
    return os.path.join(ROOT, ".build", "release", name)


def require_binaries(who, *names):
    """Exits 2 with a message unless every named release binary exists."""
    missing = [binary(n) for n in names if not os.access(binary(n), os.X_OK)]
    if missing:
        print(f"{who}: missing {', '.join(missing)}; build it first (swift build -c release --product NAME)",
              file=sys.stderr)
        sys.exit(2)


def add_options(parser, rounds=2):
    """The options every comparison script takes."""
    parser.add_argument("--rounds", type=int, default=rounds, help="alternating rounds (default %(default)s)")
    parser.add_argument("--max-load", type=float, default=1.3,
                        help="wait until the 1-minute load is at or below this before each measurement (default 1.3)")
    parser.add_argument("--wait", type=float, default=600,
                        help="seconds to wait for that before refusing with exit 3 (default 600)")
    parser.add_argument("--json", metavar="FILE", help="write the record (every measurement) as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="also write the Markdown printed on stdout")


def median(values):
    return statistics.median(values)


def peak_rss_bytes():
    """This process's peak resident set (VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def mib(nbytes):
    return f"{nbytes / 2 ** 20:.0f} MiB"


def self_command(script, *args):
    """Command line that runs `script` (a __file__) again with `args`, e.g. in a worker mode."""
    return [sys.executable, os.path.abspath(script), *map(str, args)]


def cpu_model():
    """The processor's name (/proc/cpuinfo), else the architecture."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def sides(round_index, first="ctpipe", second="pytorch"):
    """The order of the two sides in a round: flipped every round (ABBA), so a drift favours neither."""
    return [first, second] if round_index % 2 == 0 else [second, first]


def loads_text(values):
    return ", ".join(f"{v:.2f}" for v in values)


class Measurement:
    """One process: its stdout, wall and CPU seconds (user + system, its waited-for children included),
    peak RSS (ru_maxrss), the 1-minute load at its start."""

    def __init__(self, label, command, stdout, stderr, wall, cpu, peak_rss, load):
        self.label, self.command, self.stdout, self.stderr = label, command, stdout, stderr
        self.wall, self.cpu, self.peak_rss, self.load = wall, cpu, peak_rss, load

    def json(self):
        """stdout parsed as JSON (ctbench, ctpipe and the scripts' worker modes print one document)."""
        return json.loads(self.stdout)

    def record(self):
        return {"label": self.label, "command": shlex.join(self.command), "load_at_start": self.load,
                "wall_seconds": self.wall, "cpu_seconds": self.cpu, "peak_rss_bytes": self.peak_rss}


def run_process(command, env=None, cwd=None):
    """Runs `command` to its end; returns (stdout, stderr, wall s, CPU s, peak RSS bytes). Raises on failure."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        sys.stderr.write(stderr[-4000:])
        raise subprocess.CalledProcessError(process.returncode, command, stdout, stderr)
    return stdout, stderr, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


class Session:
    """The measurements of one script invocation and its report."""

    def __init__(self, who, args):
        self.who, self.args = who, args
        script = os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)
        self.command = "python3 " + shlex.join([script] + sys.argv[1:])
        self.started = datetime.datetime.now().astimezone()
        self.measurements = []

    def measure(self, label, command, env=None):
        """Waits for a quiet machine (exit 3 if it never comes), runs `command` alone, records it."""
        load = wait_quiet(self.args.max_load, self.args.wait, self.who)
        stdout, stderr, wall, cpu, rss = run_process(command, env)
        m = Measurement(label, command, stdout, stderr, wall, cpu, rss, load)
        self.measurements.append(m)
        print(f"{self.who}: {label}: load {load:.2f} at start, {wall:.1f} s wall, {cpu:.1f} s CPU",
              file=sys.stderr, flush=True)
        return m

    def loads(self):
        return [m.load for m in self.measurements]

    def header(self, title):
        ended = datetime.datetime.now().astimezone()
        loads = self.loads()
        span = f"{min(loads):.2f}–{max(loads):.2f}" if loads else "none"
        return "\n".join([
            f"### {title}", "",
            "```sh", self.command, "```", "",
            f"{self.started:%Y-%m-%d %H:%M}–{ended:%H:%M %Z}, {platform.node()} ({os.cpu_count()} CPUs, "
            f"{cpu_model()}); {len(self.measurements)} measurements, each in its own "
            f"process, each started with the 1-minute load at or below {self.args.max_load} "
            f"(at their starts: {span}; load now {load1():.2f}).",
        ])

    def report(self, title, sections, data=None):
        """Prints the Markdown (header, then `sections`: tables and notes) and writes --markdown / --json."""
        text = "\n\n".join([self.header(title)] + list(sections)) + "\n"
        print(text)
        if self.args.markdown:
            with open(self.args.markdown, "w") as f:
                f.write(text)
        if self.args.json:
            record = {"command": self.command, "started": self.started.isoformat(),
                      "ended": datetime.datetime.now().astimezone().isoformat(), "cpus": os.cpu_count(),
                      "max_load": self.args.max_load, "measurements": [m.record() for m in self.measurements]}
            record.update(data or {})
            with open(self.args.json, "w") as f:
                json.dump(record, f, indent=1)
