#!/usr/bin/env bash
# slurm_selftest.sh — proves the Slurm path end to end on this one machine: installs Slurm
# and MUNGE from Debian (slurm-wlm, munge), starts munged, slurmctld and slurmd on
# localhost with a minimal slurm.conf, synthesizes a Cityscapes set with predictions,
# submits the shard job array and the dependent merge job with scripts/slurm_submit.sh,
# waits, and checks that the merged metrics.json equals a single-process run byte for byte,
# that the merge recorded the run in the history and wrote report.html. Then a second
# submission with worse predictions must end in a FAILED merge job with exit status 4.
#
# Needs root (or sudo) and starts system daemons, so it is not part of scripts/test.sh.
# The daemons it started are stopped at the end; the packages stay installed.
#
#   bash scripts/slurm_selftest.sh [WORK]      (default WORK=/tmp/ctpipe-slurm-selftest)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=${1:-/tmp/ctpipe-slurm-selftest}
shards=4
sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
log() { echo "slurm_selftest: $*"; }

# --- Slurm and MUNGE from Debian ---------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurm-wlm and munge"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
log "$(sbatch --version)"

state=/var/tmp/ctpipe-slurm-selftest
$sudo mkdir -p $state/ctld $state/d /etc/slurm /run/munge /var/log/munge /var/lib/munge
$sudo chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
[[ -s /etc/munge/munge.key ]] || $sudo runuser -u munge -- mungekey --create
# Daemons run in the foreground as children of this script, so it can stop and reap them.
started=()
cleanup() {
    for pid in "${started[@]}"; do $sudo kill "$pid" 2>/dev/null || true; done
    for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
if ! munge -n >/dev/null 2>&1 </dev/null; then
    $sudo runuser -u munge -- munged --foreground >>$state/munged.out 2>&1 &
    started+=($!)
    for _ in $(seq 20); do munge -n >/dev/null 2>&1 </dev/null && break; sleep 0.5; done
fi
munge -n </dev/null | unmunge >/dev/null && log "munge works"

host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
$sudo tee /etc/slurm/slurm.conf >/dev/null <<CONF
# Minimal single-machine Slurm for scripts/slurm_selftest.sh
ClusterName=ctpipe-selftest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=selftest Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
$sudo tee /etc/slurm/cgroup.conf >/dev/null <<CONF
CgroupPlugin=autodetect
IgnoreSystemd=yes
CONF
if ! scontrol ping 2>/dev/null | grep -q UP; then
    $sudo slurmctld -D -c >>$state/slurmctld.out 2>&1 &
    started+=($!)
fi
if ! pgrep -x slurmd >/dev/null; then
    $sudo slurmd -D >>$state/slurmd.out 2>&1 &
    started+=($!)
fi
for _ in $(seq 60); do
    sinfo -h -N -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)' && break
    sleep 1
done
sinfo -N -o "%N %t %c %m" | sed 's/^/slurm_selftest:   /'
sinfo -h -N -o %t | grep -qE '^(idle|mix|alloc)' || { log "node did not come up; see $state/slurmd.log"; tail -20 $state/slurmd.log; exit 1; }

# --- data, reference run, array + merge ------------------------------------------------
swift build --product ctpipe >/dev/null
ctpipe="$(swift build --show-bin-path)/ctpipe"
rm -rf "$work" && mkdir -p "$work" && cd "$work"
"$ctpipe" synth --dataset cityscapes --out data/city --count 24 --split val --size 512x256 >/dev/null
python3 "$repo/scripts/make_predictions.py" data/city pred --corrupt 0.1 --seed 7
cat > slurm.json <<JSON
{"version": 1, "name": "slurm-selftest",
 "pipeline": "$repo/pipelines/score-predictions.json",
 "datasets": [{"kind": "cityscapes", "root": "data/city", "name": "city"}],
 "predictions": {"dir": "pred"},
 "execution": {"shards": 3, "workers": 1},
 "history": {"regression": {"max_miou_drop": 1.0}}}
JSON
"$ctpipe" run slurm.json --quiet --no-history --run-dir "$work/reference" >/dev/null 2>&1
log "reference: single process, 3 shards -> $work/reference/metrics.json"

t0=$(date +%s)
set +e
bash "$repo/scripts/slurm_submit.sh" --ctpipe "$ctpipe" --run-dir "$work/runs/slurm-1" --wait slurm.json $shards
status=$?
set -e
log "first submission: exit $status after $(( $(date +%s) - t0 )) s"
[[ $status -eq 0 ]] || { log "FAILED: merge job did not complete"; exit 1; }
ls "$work/runs/slurm-1/shards/city" | sed 's/^/slurm_selftest:   shard record /'
cmp "$work/runs/slurm-1/metrics.json" "$work/reference/metrics.json"
log "merged metrics.json of $shards array tasks equals the single-process run byte for byte"
grep -h "on $host" "$work"/runs/slurm-1/slurm/shard-*.out | sed 's/^/slurm_selftest:   /'
"$ctpipe" history --db "$work/runs/history.sqlite" | sed 's/^/slurm_selftest:   /'
[[ -s "$work/runs/slurm-1/report.html" ]] && log "report.html written by the merge job"

# A worse "model": the merge job must fail with exit status 4.
python3 "$repo/scripts/make_predictions.py" data/city pred --corrupt 0.1 --seed 7 --drop 13 >/dev/null
set +e
bash "$repo/scripts/slurm_submit.sh" --ctpipe "$ctpipe" --run-dir "$work/runs/slurm-2" --wait slurm.json $shards
status=$?
set -e
log "second submission (cars predicted as road): exit $status"
[[ $status -eq 4 ]] || { log "FAILED: expected the merge job to exit with status 4 (regression)"; exit 1; }
"$ctpipe" history --db "$work/runs/history.sqlite" | sed 's/^/slurm_selftest:   /'
log "OK"
