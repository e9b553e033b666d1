#!/usr/bin/env bash
# check_report.sh — renders report.html in a real headless browser and checks it.
#
# Builds ctpipe (debug) unless CTPIPE names a binary, synthesizes a Cityscapes and an
# ACDC set with predictions derived from their labels, runs the score-predictions
# pipeline three times into one history (the third with a worse "model"), adds a
# training loss log to the last run, rewrites its report with `ctpipe report`, then
# with Debian's chromium (installed here when missing; root or sudo needed):
#   - `chromium --headless --dump-dom` -> the DOM the browser built; scripts/check_report.py
#     checks every number on the page against metrics.json, the charts and the gallery order;
#   - `chromium --headless --screenshot` -> report.png to look at.
# Outputs land in WORK (default /tmp/ctpipe-report-check). Not part of scripts/test.sh
# (it installs a browser); the Swift tests check the same page without one.
#
#   bash scripts/check_report.sh [WORK]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=${1:-/tmp/ctpipe-report-check}

if ! command -v chromium >/dev/null; then
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    echo "check_report: installing chromium (Debian package)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
if [[ -z "${CTPIPE:-}" ]]; then
    swift build --product ctpipe >/dev/null
    CTPIPE="$(swift build --show-bin-path)/ctpipe"
fi

rm -rf "$work" && mkdir -p "$work" && cd "$work"
"$CTPIPE" synth --dataset cityscapes --out data/city --count 12 --split val >/dev/null
"$CTPIPE" synth --dataset acdc --out data/acdc --count 3 --split val >/dev/null
python3 "$repo/scripts/make_predictions.py" data/city pred/city --corrupt 0.10 --seed 1
python3 "$repo/scripts/make_predictions.py" data/acdc pred/acdc --corrupt 0.10 --seed 2
cat > report.json <<JSON
{"version": 1, "name": "report-check",
 "pipeline": "$repo/pipelines/score-predictions.json",
 "datasets": [{"kind": "cityscapes", "root": "data/city", "name": "city"},
              {"kind": "acdc", "root": "data/acdc", "name": "acdc"}],
 "predictions": {"dir": "pred"},
 "execution": {"shards": 3, "workers": 2},
 "history": {"regression": {"max_miou_drop": 1.0}}}
JSON
"$CTPIPE" run report.json --quiet >/dev/null
"$CTPIPE" run report.json --quiet >/dev/null
# A worse "model": persons and cars predicted as road.
python3 "$repo/scripts/make_predictions.py" data/city pred/city --corrupt 0.15 --seed 3 --drop 11,13
status=0
"$CTPIPE" run report.json --quiet >/dev/null 2>run3.err || status=$?
cat run3.err
[[ $status -eq 4 ]] || { echo "check_report: expected exit status 4 (regression), got $status"; exit 1; }
run=$(ls -d runs/report-check/*/ | sort | tail -1); run=${run%/}
python3 - "$run/train_log.jsonl" <<'PY'
import json, math, sys
with open(sys.argv[1], "w") as f:
    for i in range(0, 2001, 50):
        f.write(json.dumps({"iteration": i, "loss": 2.5 * math.exp(-i / 600) + 0.3, "lr": 1e-4}) + "\n")
PY
"$CTPIPE" report "$run" >/dev/null

page="file://$PWD/$run/report.html"
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --disable-extensions)
timeout 120 chromium "${flags[@]}" --dump-dom "$page" > dom.html 2>chromium.log
timeout 120 chromium "${flags[@]}" --window-size=1300,9000 --screenshot="$PWD/report.png" "$page" >>chromium.log 2>&1
[[ -s dom.html && -s report.png ]] || { echo "check_report: chromium produced no DOM or screenshot (see $work/chromium.log)"; exit 1; }
python3 "$repo/scripts/check_report.py" dom.html "$run" --expect-trend 3 --expect-loss
echo "check_report: OK — DOM $work/dom.html, screenshot $work/report.png"
