#!/usr/bin/env bash
# bench_all.sh — the ctpipe-vs-PyTorch comparison families in sequence, for BENCHMARKS.md.
#
#   swift build -c release --product ctbench && swift build -c release --product ctpipe
#   scripts/bench_all.sh OUTDIR [--smoke] [--max-load 1.3] [--wait 600]
#
# Builds nothing: .build/release/ctbench and .build/release/ctpipe must exist. Writes, per
# family, OUTDIR/<family>.md (the Markdown: command, dates, loads, table) and
# OUTDIR/<family>.json (every measurement), and the Markdown also to stdout; progress on
# stderr. Every measurement runs in its own process and waits for a quiet machine (1-minute
# load <= --max-load); a script that waits --wait seconds in vain exits 3, and so does this
# driver, at once. Other options after OUTDIR are passed to every script.
#
# Settings (2 threads; estimated 12-20 minutes on a quiet 2-core machine, the waits for a quiet
# machine between the measurements included):
#   1 backbone      vits14 and vitl14, 512, p16, batch 1; 3 timed forwards per process; 2 rounds
#   2 segmentation  vits and vitl at 512: backbone alone vs + linear head + Causal-Tune (m 100);
#                   2 timed passes per process; 2 rounds
#   3 training      vits 512 batch 1, frozen backbone, Causal-Tune, linear head; 3 timed iterations
#                   per process; 3 rounds
#   4 scaling       ctpipe infer / features / runner (1 worker), 1 vs 2 threads; 2 frames; 3 rounds
#     runner-infer  whole frames through the runner, 1 worker x 2 threads and 2 workers x 1 thread,
#                   vs PyTorch; 2 frames; 3 rounds
# --smoke: the same scripts with 1 round, 1 run and vits only, to see that everything runs (not for numbers).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
if [[ $# -lt 1 || $1 == -* ]]; then
    echo "usage: scripts/bench_all.sh OUTDIR [--smoke] [--max-load L] [--wait S]" >&2
    exit 2
fi
out=$1
shift
smoke=0
pass=()
for a in "$@"; do
    if [[ $a == --smoke ]]; then smoke=1; else pass+=("$a"); fi
done
for b in ctbench ctpipe; do
    if [[ ! -x $root/.build/release/$b ]]; then
        echo "bench_all: $root/.build/release/$b is missing; build it first (swift build -c release --product $b)" >&2
        exit 2
    fi
done
mkdir -p "$out" || exit 2

if ((smoke)); then
    backbone=(--configs vits14:512:1 --runs 1 --rounds 1)
    segmentation=(--models vits --runs 1 --rounds 1)
    training=(--configs vits:1 --runs 1 --rounds 1)
    scaling=(--frames 1 --rounds 1)
    runner=(--images 2 --rounds 1)
else
    backbone=(--configs vits14:512:1,vitl14:512:1 --runs 3 --rounds 2)
    segmentation=(--models vits,vitl --runs 3 --rounds 3)
    training=(--configs vits:1 --runs 3 --rounds 3)
    scaling=(--frames 3 --rounds 5)
    runner=(--images 2 --rounds 3)
fi

family() {
    local name=$1 script=$2
    shift 2
    echo "bench_all: $name ($(date +%H:%M:%S), 1-minute load $(cut -d' ' -f1 /proc/loadavg))" >&2
    python3 "$here/$script" "$@" "${pass[@]}" --json "$out/$name.json" --markdown "$out/$name.md"
    local status=$?
    if ((status != 0)); then
        local why=""
        ((status == 3)) && why=" (the machine was not quiet)"
        echo "bench_all: $name stopped with exit $status$why" >&2
        exit "$status"
    fi
}

start=$(date +%s)
family backbone bench_backbone.py --threads 2 "${backbone[@]}"
family segmentation bench_segmentation.py --threads 2 --variants causal-tune "${segmentation[@]}"
family training bench_training.py --threads 2 "${training[@]}"
family scaling bench_scaling.py --low 1 --high 2 "${scaling[@]}"
family runner-infer bench_runner_infer.py --threads 2 --workers 1,2 "${runner[@]}"
echo "bench_all: done in $(( ($(date +%s) - start) / 60 )) min; tables and records in $out" >&2
