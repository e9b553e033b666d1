#!/usr/bin/env bash
# dg_study.sh — a small domain-generalisation study on synthetic data
# (docs/dg-study.md): adapter none / rein / causal-tune (bandpass, lowcut,
# highcut), each trained with the same budget on GTA-style synthetic scenes
# (frozen randomly initialised `tiny` backbone, linear head, same seed), then
# evaluated on camera-style clear scenes (Cityscapes synth) and the ACDC
# fog / night / rain / snow synth sets. Prints a markdown table of mIoU.
#
#   swift build -c release --product ctpipe
#   bash scripts/dg_study.sh [ITERATIONS] [OUT_DIR] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
ITERATIONS="${1:-600}"
OUT="${2:-runs/dg-study}"
SEED="${3:-0}"
BIN=.build/release/ctpipe
[ -x "$BIN" ] || swift build -c release --product ctpipe
mkdir -p "$OUT/manifests"
DATA="$(pwd)/data/dg"
variants=("none:bandpass" "rein:bandpass" "causal-tune:bandpass" "causal-tune:lowcut" "causal-tune:highcut")
for v in "${variants[@]}"; do
  adapter="${v%%:*}"; filter="${v##*:}"
  name="dg-${adapter}-${filter}"
  [ "$adapter" != "causal-tune" ] && name="dg-${adapter}"
  cat > "$OUT/manifests/$name.json" <<JSON
{
  "version": 1, "name": "$name", "seed": $SEED,
  "pipeline": {"version": 1, "name": "train-then-evaluate", "stages": ["read", "train", "infer", "metric"],
               "defaults": {"execution": {"shards": 4}}},
  "datasets": [
    {"name": "gta-synth", "kind": "gta5", "root": "$DATA/gta", "role": "train", "synthesize": {"count": 160, "seed": 1, "size": [256, 128]}},
    {"name": "cityscapes-synth", "kind": "cityscapes", "root": "$DATA/cityscapes", "split": "val", "scale": [256, 128],
     "synthesize": {"count": 24, "seed": 2, "size": [256, 128]}},
    {"name": "acdc-synth", "kind": "acdc", "root": "$DATA/acdc", "split": "val", "condition": "all", "scale": [256, 128],
     "synthesize": {"count": 12, "seed": 3, "size": [256, 128]}}
  ],
  "model": {"backbone": "tiny", "adapter": "$adapter", "filter": "$filter", "tokens": 20, "head": "linear"},
  "training": {"iterations": $ITERATIONS, "batch_size": 4, "crop_size": 128, "lr": 0.001, "warmup_iterations": 20,
               "checkpoint_interval": $ITERATIONS},
  "outputs": {"dir": "$(pwd)/$OUT/runs"}
}
JSON
  start=$(date +%s)
  "$BIN" run "$OUT/manifests/$name.json" --quiet > /dev/null
  echo "$name: $(( $(date +%s) - start )) s" >&2
done
python3 - "$OUT/runs" <<'PY'
import json, os, sys
root = sys.argv[1]
cols = ["cityscapes-synth", "acdc-synth/fog", "acdc-synth/night", "acdc-synth/rain", "acdc-synth/snow"]
print("| variant | " + " | ".join(cols) + " | ACDC avg. | final train loss |")
print("|---" * (len(cols) + 3) + "|")
for name in sorted(os.listdir(root)):
    run = os.path.join(root, name, sorted(os.listdir(os.path.join(root, name)))[-1])
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    miou = {d["name"]: d["mIoU"] for d in metrics["datasets"]}
    acdc = [miou[c] for c in cols[1:]]
    log = [json.loads(l) for l in open(os.path.join(run, "train_log.jsonl"))]
    last = sum(l["loss"] for l in log[-50:]) / len(log[-50:])
    print(f"| {name} | " + " | ".join(f"{miou[c]:.2f}" for c in cols) + f" | {sum(acdc) / 4:.2f} | {last:.3f} |")
PY
