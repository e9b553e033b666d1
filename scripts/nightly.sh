#!/usr/bin/env bash
# nightly.sh — the nightly re-evaluation: runs each manifest with `ctpipe run`, which
# records the results in the history, checks the manifest's regression thresholds and
# writes report.html. Quiet when all is well (cron mails whatever a job prints), so
# output means attention: the regression lines, or the error.
#
#   scripts/nightly.sh [--ctpipe PATH] [--log-dir DIR] [--keep-logs N] MANIFEST...
#
#   --ctpipe PATH   the ctpipe binary (default: ctpipe on PATH, else .build/release/ctpipe)
#   --log-dir DIR   full logs, one per manifest and night (default: logs/ next to this repository)
#   --keep-logs N   delete logs older than N days (default 30; 0 keeps all)
#
# Exit status: 0 every run fine; 4 at least one regression (and no other failure);
# 1 a run failed; 75 another nightly.sh still holds the lock (nothing was run).
# docs/operations.md shows a crontab line and a systemd timer that call this.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
ctpipe=""
log_dir="$repo/logs"
keep=30
manifests=()
while (($#)); do
    case $1 in
        --ctpipe) ctpipe=$2; shift 2 ;;
        --log-dir) log_dir=$2; shift 2 ;;
        --keep-logs) keep=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        -*) echo "nightly: unknown option $1" >&2; exit 2 ;;
        *) manifests+=("$1"); shift ;;
    esac
done
((${#manifests[@]})) || { echo "nightly: no manifest given (see --help)" >&2; exit 2; }
if [[ -z $ctpipe ]]; then
    ctpipe=$(command -v ctpipe || true)
    [[ -n $ctpipe ]] || ctpipe="$repo/.build/release/ctpipe"
fi
[[ -x $ctpipe ]] || { echo "nightly: ctpipe binary not found at '$ctpipe' (build with: swift build -c release)" >&2; exit 1; }
mkdir -p "$log_dir"

# One nightly at a time: a slow night must not overlap the next one.
exec 9>"$log_dir/.nightly.lock"
if ! flock -n 9; then
    echo "nightly: another nightly.sh holds $log_dir/.nightly.lock; nothing run" >&2
    exit 75
fi

stamp=$(date -u +%Y%m%d-%H%M%S)
worst=0
for manifest in "${manifests[@]}"; do
    log="$log_dir/$(basename "$manifest" .json)-$stamp.log"
    "$ctpipe" run "$manifest" --quiet >"$log" 2>&1
    status=$?
    case $status in
        0) ;;
        4)
            echo "== $manifest: REGRESSION (log $log)"
            grep -A200 '^REGRESSION' "$log" | grep -E '^(REGRESSION|  )' | head -40
            grep -E '^report: ' "$log"
            ((worst == 0)) && worst=4 ;;
        *)
            echo "== $manifest: FAILED with status $status (log $log)"
            tail -20 "$log"
            worst=1 ;;
    esac
done
if ((keep > 0)); then
    find "$log_dir" -maxdepth 1 -name '*.log' -mtime +"$keep" -delete 2>/dev/null || true
fi
exit $worst
