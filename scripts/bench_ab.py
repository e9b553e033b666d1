#!/usr/bin/env python3
"""bench_ab.py — alternating A/B rounds of two ctbench builds (e.g. the last
release and the working tree), same machine, same threads.

    python3 scripts/bench_ab.py --a OLD/ctbench --b NEW/ctbench [--rounds 4] [--threads 2]
        [--families backbone,segmentation,training] [--max-load 1.3] [--wait 600]

Each round runs every family once with A then once with B (the order flips
every round, ABBA, so a drift in machine speed favours neither). Before each
run the script waits until the 1-minute load average is at or below
--max-load; after --wait seconds without that it refuses (exit 3), because a
ratio taken on a busy machine says little. Prints, per family and variant, the
median milliseconds of A and B over the rounds and B/A, as a table and as JSON
(--json FILE). Ratios below 1 mean B is faster.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quiet_machine import wait_quiet  # noqa: E402

FAMILIES = {
    # family: (ctbench arguments, extractor of {variant: milliseconds})
    "backbone": (["backbone", "--model", "vits14", "--size", "512", "--batch", "1", "--runs", "5", "--json"],
                 lambda r: {res["name"]: res["milliseconds"] for res in r["results"]}),
    "segmentation": (["segmentation", "--runs", "5", "--json"],
                     lambda r: {**{f["variant"]: f["milliseconds"] for f in r["forward"]},
                                **{"slide 1024x512 (3 windows)": i["secondsPerImage"] * 1000 for i in r["inference"]}}),
    "training": (["training", "--model", "vits", "--batch", "1", "--runs", "5", "--json"],
                 lambda r: {"training step vits 512 b1": r["secondsPerIteration"] * 1000}),
}


def run(binary, family, threads):
    args, extract = FAMILIES[family]
    out = subprocess.run([binary] + args + ["--threads", str(threads)], check=True, capture_output=True, text=True).stdout
    return extract(json.loads(out))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--a", required=True)
    p.add_argument("--b", required=True)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--families", default="backbone,segmentation,training")
    p.add_argument("--max-load", type=float, default=1.3)
    p.add_argument("--wait", type=float, default=600)
    p.add_argument("--json")
    o = p.parse_args()
    families = o.families.split(",")
    samples = {f: {"a": {}, "b": {}} for f in families}
    loads = []
    for r in range(o.rounds):
        order = ["a", "b"] if r % 2 == 0 else ["b", "a"]
        for f in families:
            for side in order:
                loads.append(wait_quiet(o.max_load, o.wait, "bench_ab"))
                for variant, ms in run(getattr(o, side), f, o.threads).items():
                    samples[f][side].setdefault(variant, []).append(ms)
        print(f"round {r + 1}/{o.rounds} done (1-minute load at starts: max {max(loads):.2f})", file=sys.stderr)
    report = {"a": os.path.abspath(o.a), "b": os.path.abspath(o.b), "rounds": o.rounds, "threads": o.threads,
              "max_load_at_start": max(loads), "results": []}
    print(f"| family | variant | A ms (median of {o.rounds}) | B ms | B/A |")
    print("|---|---|---|---|---|")
    for f in families:
        for variant, a in samples[f]["a"].items():
            b = samples[f]["b"].get(variant, [])
            if not b:
                continue
            ma, mb = statistics.median(a), statistics.median(b)
            report["results"].append({"family": f, "variant": variant, "a": a, "b": b, "ratio": mb / ma})
            print(f"| {f} | {variant} | {ma:.1f} | {mb:.1f} | {mb / ma:.3f} |")
    print(f"1-minute load at the start of each run: at most {max(loads):.2f}")
    if o.json:
        with open(o.json, "w") as out:
            json.dump(report, out, indent=1)


if __name__ == "__main__":
    main()
