#!/usr/bin/env bash
# dg_study.sh — a small domain-generalisation study on synthetic data
# (docs/dg-study.md): adapter none / rein / causal-tune (band-pass, low-cut and
# high-cut masks with the DCT; band-pass with the FFT and the Haar wavelet),
# each trained with the same budget on GTA-style synthetic scenes (frozen
# randomly initialised `tiny` backbone, linear head), once per seed (`seeds`),
# then evaluated on camera-style clear scenes (Cityscapes synth) and the ACDC
# fog / night / rain / snow synth sets; the band-pass DCT Causal-Tune also with
# a small Mask2Former head (64 wide, 20 queries, 3 decoder layers, 1 encoder layer). Writes OUT_DIR/table.md with
# scripts/dg_study_table.py (mean and sample std over the seeds from each
# variant's summary.json) and the wall time of each variant.
#
#   swift build -c release --product ctpipe
#   bash scripts/dg_study.sh [ITERATIONS] [OUT_DIR] [SEEDS]      # defaults: 600 runs/dg-study 0,1
set -euo pipefail
cd "$(dirname "$0")/.."
ITERATIONS="${1:-600}"
OUT="${2:-runs/dg-study}"
SEEDS="${3:-0,1}"
[[ "$ITERATIONS" =~ ^[1-9][0-9]*$ ]] || { echo "ITERATIONS must be a positive integer, got '$ITERATIONS'" >&2; exit 64; }
[[ "$SEEDS" =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "SEEDS must be a comma-separated list of integers, got '$SEEDS'" >&2; exit 64; }
BIN=.build/release/ctpipe
[ -x "$BIN" ] || swift build -c release --product ctpipe
mkdir -p "$OUT/manifests" "$OUT/logs"
OUT="$(cd "$OUT" && pwd)"
DATA="$(pwd)/data/dg"
: > "$OUT/timings.tsv"
variants=("none:bandpass:dct:linear" "rein:bandpass:dct:linear"
          "causal-tune:bandpass:dct:linear" "causal-tune:lowcut:dct:linear" "causal-tune:highcut:dct:linear"
          "causal-tune:bandpass:fft:linear" "causal-tune:bandpass:haar:linear"
          "causal-tune:bandpass:dct:mask2former")
# DG_VARIANTS=name,name (e.g. dg-causal-tune-bandpass-dct-mask2former) runs only those variants.
M2F_HEAD='"head": "mask2former", "mask2former": {"embed_dim": 64, "queries": 20, "decoder_layers": 3, "encoder_layers": 1, "feedforward": 256, "encoder_feedforward": 128, "heads": 4, "points": 4, "groups": 8}'

study_start=$(date +%s)
for v in "${variants[@]}"; do
  IFS=: read -r adapter filter transform head <<< "$v"
  if [ "$adapter" = "causal-tune" ]; then
    name="dg-${adapter}-${filter}-${transform}"
    model="\"adapter\": \"$adapter\", \"transform\": \"$transform\", \"filter\": \"$filter\""
  else
    name="dg-${adapter}"
    model="\"adapter\": \"$adapter\""
  fi
  if [ "$head" = "mask2former" ]; then
    name="$name-mask2former"
    headjson="$M2F_HEAD"
  else
    headjson='"head": "linear"'
  fi
  if [ -n "${DG_VARIANTS:-}" ] && [[ ",$DG_VARIANTS," != *",$name,"* ]]; then continue; fi
  cat > "$OUT/manifests/$name.json" <<JSON
{
  "version": 1, "name": "$name", "seeds": [$SEEDS],
  "pipeline": {"version": 1, "name": "train-then-evaluate", "stages": ["read", "train", "infer", "metric"],
               "defaults": {"execution": {"shards": 4}}},
  "datasets": [
    {"name": "gta-synth", "kind": "gta5", "root": "$DATA/gta", "role": "train", "synthesize": {"count": 160, "seed": 1, "size": [256, 128]}},
    {"name": "cityscapes-synth", "kind": "cityscapes", "root": "$DATA/cityscapes", "split": "val", "scale": [256, 128],
     "synthesize": {"count": 24, "seed": 2, "size": [256, 128]}},
    {"name": "acdc-synth", "kind": "acdc", "root": "$DATA/acdc", "split": "val", "condition": "all", "scale": [256, 128],
     "synthesize": {"count": 12, "seed": 3, "size": [256, 128]}}
  ],
  "averages": {"ACDC": ["acdc-synth/fog", "acdc-synth/night", "acdc-synth/rain", "acdc-synth/snow"]},
  "model": {"backbone": "tiny", $model, "tokens": 20, $headjson},
  "training": {"iterations": $ITERATIONS, "batch_size": 4, "crop_size": 128, "lr": 0.001, "warmup_iterations": 20,
               "checkpoint_interval": $ITERATIONS},
  "outputs": {"dir": "$OUT/runs"}
}
JSON
  start=$(date +%s)
  "$BIN" run "$OUT/manifests/$name.json" --quiet > "$OUT/logs/$name.out" 2> "$OUT/logs/$name.err" \
    || { echo "$name failed (exit $?); see $OUT/logs/$name.err" >&2; exit 1; }
  seconds=$(( $(date +%s) - start ))
  printf '%s\t%s\n' "$name" "$seconds" >> "$OUT/timings.tsv"
  echo "$name: $seconds s" >&2
done
echo "total: $(( $(date +%s) - study_start )) s for ${#variants[@]} variants x seeds $SEEDS, $ITERATIONS iterations" >&2
python3 scripts/dg_study_table.py "$OUT" > "$OUT/table.md"
cat "$OUT/table.md"
