#!/usr/bin/env bash
# slurm_submit.sh — evaluates a manifest on a Slurm cluster: a job array of N shard tasks
# (`ctpipe run MANIFEST --shard i/N --run-dir RUN_DIR`) and a merge job that starts when all
# of them succeeded (`--dependency=afterok`), running `ctpipe merge RUN_DIR`.
#
#   scripts/slurm_submit.sh [--ctpipe PATH] [--run-dir DIR] [--wait] MANIFEST N [-- SBATCH_OPTIONS...]
#
# RUN_DIR must be on a file system every node sees; default
# <manifest folder>/runs/<manifest file name>/slurm-<UTC time>. The run id in the history is
# <manifest name>/<RUN_DIR's folder name>. SBATCH_OPTIONS (e.g. --partition=gpu --cpus-per-task=8
# --time=02:00:00) go to both submissions. Slurm logs: RUN_DIR/slurm/. Prints the two job ids.
# --wait blocks until the merge job ends and exits with its status (0 ok, 4 regression, else 1).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
ctpipe=$(command -v ctpipe || echo "$repo/.build/release/ctpipe")
run_dir="" wait=0
while [[ $# -gt 0 && $1 == --* ]]; do
    case $1 in
        --ctpipe) ctpipe=$2; shift 2 ;;
        --run-dir) run_dir=$2; shift 2 ;;
        --wait) wait=1; shift ;;
        --) break ;;
        *) echo "slurm_submit: unknown option $1" >&2; exit 2 ;;
    esac
done
[[ $# -ge 2 ]] || { sed -n '2,15p' "$0"; exit 2; }
manifest=$(realpath "$1") count=$2; shift 2
[[ ${1:-} == -- ]] && shift
extra=("$@")
[[ $count =~ ^[1-9][0-9]*$ ]] || { echo "slurm_submit: N must be a positive integer" >&2; exit 2; }
ctpipe=$(realpath "$ctpipe")
"$ctpipe" validate "$manifest" >/dev/null
if [[ -z $run_dir ]]; then
    run_dir="$(dirname "$manifest")/runs/$(basename "$manifest" .json)/slurm-$(date -u +%Y%m%d-%H%M%S)"
fi
mkdir -p "$run_dir/slurm"
run_dir=$(realpath "$run_dir")

array=$(sbatch --parsable --array=0-$((count - 1)) --output="$run_dir/slurm/shard-%A_%a.out" "${extra[@]}" \
    "$repo/scripts/slurm/ctpipe_shard.sbatch" "$ctpipe" "$manifest" "$run_dir" "$count")
array=${array%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$array" --kill-on-invalid-dep=yes --output="$run_dir/slurm/merge-%j.out" \
    "${extra[@]}" "$repo/scripts/slurm/ctpipe_merge.sbatch" "$ctpipe" "$run_dir")
merge=${merge%%;*}
echo "array job $array ($count shards), merge job $merge, run folder $run_dir"
((wait)) || exit 0

# Wait for the merge job to leave the queue, then read its final state.
while squeue -h -j "$merge" 2>/dev/null | grep -q .; do sleep 2; done
state=$(scontrol show job "$merge" 2>/dev/null | grep -oE 'JobState=[A-Z_]+' | cut -d= -f2 || true)
code=$(scontrol show job "$merge" 2>/dev/null | grep -oE ' ExitCode=[0-9]+' | cut -d= -f2 || true)
echo "merge job $merge: ${state:-unknown} exit ${code:-?}"
cat "$run_dir"/slurm/merge-"$merge".out 2>/dev/null | tail -30 || true
[[ $state == COMPLETED ]] && exit 0
[[ $code == 4 ]] && exit 4
exit 1
