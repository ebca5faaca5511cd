#!/usr/bin/env bash
# The embedded default main job: generate the self-made demo assets (tiny random Llama + its tokenizer, synthetic
# instruction data, demo-job.json), fine-tune it with ShareLoRA share-a, then plot the run and print its summary table
# (`sharelora plot`, `sharelora summary`).
#
#   scripts/demo.sh                 # self-made assets; 2-worker local cluster if scripts/local-cluster.sh exists
#   scripts/demo.sh --single        # force the single-process trainer (`sharelora train`)
#   scripts/demo.sh --shared        # developers: stories260K + alpaca-libre from the shared folder instead
#   scripts/demo.sh --set steps=50  # any job override, passed through (repeatable)
#   scripts/demo.sh --no-kill       # the local cluster without the mid-run kill of a worker
#
# On the local cluster, one worker is killed (SIGKILL) mid-run, 10 steps after the first checkpoint: the coordinator
# notices, re-plans the stages onto the worker left and continues from that checkpoint by itself.
#
# Everything goes under runs/demo/ (assets/ and run/). Every process this script starts is stopped on exit or Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
sharelora="$root/scripts/sharelora"
cluster="$root/scripts/local-cluster.sh"

use_shared=0
single=0
kill_worker=1
workers=2
overrides=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --shared) use_shared=1 ;;
    --single) single=1 ;;
    --no-kill) kill_worker=0 ;;
    --workers) workers="$2"; shift ;;
    --set) overrides+=(--set "$2"); shift ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

children=()
cleanup() {
  local pid
  for pid in "${children[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for pid in "${children[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'echo "demo.sh: interrupted" >&2; exit 130' INT TERM

# Runs a command in the background and waits for it, so the traps above can stop it (a foreground child would
# delay the trap until it exits on its own).
run() {
  "$@" &
  children+=($!)
  wait $!
}

# Waits for the run's first checkpoint event in metrics.jsonl, then for 10 more steps, then kills the worker whose
# pid file is given (SIGKILL: no goodbye to the cluster). Gives up quietly when the run ends first.
kill_worker_mid_run() {
  local metrics="$1" pidfile="$2" checkpoint="" step pid
  for _ in $(seq 6000); do
    sleep 0.1
    [[ -s "$metrics" && -s "$pidfile" ]] || continue
    if [[ -z "$checkpoint" ]]; then
      checkpoint=$(grep -o '^{"event":"checkpoint","step":[0-9]*' "$metrics" | head -1 | grep -o '[0-9]*$' || true)
      [[ -n "$checkpoint" ]] || continue
    fi
    step=$(grep -o '^{"step":[0-9]*' "$metrics" | tail -1 | grep -o '[0-9]*$' || true)
    if [[ -n "$step" && $step -ge $((checkpoint + 10)) ]]; then
      pid=$(cat "$pidfile")
      if kill -KILL "$pid" 2>/dev/null; then
        echo "== demo: killed a worker (pid $pid, SIGKILL) at step $step; the last checkpoint is step $checkpoint." \
          "The coordinator recovers by itself: watch the status line." >&2
      fi
      return 0
    fi
  done
}

demo_dir="$root/runs/demo"
run_dir="$demo_dir/run"
mkdir -p "$demo_dir"

shared="${SHARELORA_SHARED:-$root/../shared}"
if [[ $use_shared == 1 ]]; then
  model="$shared/models/stories260K-hf"
  data="$shared/data/alpaca-libre/alpaca_libre_tasks_v3.jsonl"
  if [[ ! -d "$model" || ! -f "$data" ]]; then
    echo "demo.sh: --shared needs $model and $data (set SHARELORA_SHARED to the shared folder)" >&2
    exit 2
  fi
  echo "== using the shared stories260K model and alpaca-libre data"
  job="$root/jobs/tiny-share-a.json"
  overrides=(--set pipeline.stages=2 "${overrides[@]}")
else
  echo "== generating the demo assets (runs/demo/assets)"
  run "$sharelora" init-demo --out "$demo_dir/assets" --force
  job="$demo_dir/assets/demo-job.json"
fi

# A fresh run each time: an old run folder would hold checkpoints of a different run.
rm -rf "$run_dir"
overrides=(--set "output=$run_dir" "${overrides[@]}")

start=$(date +%s)
if [[ $single == 0 && -x "$cluster" ]]; then
  echo "== training on a local cluster: a seed node and $workers workers (scripts/local-cluster.sh)"
  cluster_logs="$demo_dir/logs"
  rm -f "$cluster_logs"/worker-*.pid
  if [[ $kill_worker == 1 ]]; then
    kill_worker_mid_run "$run_dir/metrics.jsonl" "$cluster_logs/worker-$workers.pid" &
    children+=($!)
  fi
  run "$cluster" --workers "$workers" --job "$job" --logs "$cluster_logs" "${overrides[@]}"
else
  if [[ $single == 0 ]]; then
    echo "== scripts/local-cluster.sh not found: training single-process with 'sharelora train' instead"
  else
    echo "== training single-process with 'sharelora train' (--single)"
  fi
  run "$sharelora" train --job "$job" "${overrides[@]}"
fi
elapsed=$(( $(date +%s) - start ))

metrics="$run_dir/metrics.jsonl"
if [[ ! -s "$metrics" ]]; then
  echo "demo.sh: no metrics at $metrics; the run did not record any step" >&2
  exit 1
fi

# Plots first, so the summary lists them. They are a bonus: a plotting problem must not turn a finished training run
# into a failed demo.
echo
echo "== plots"
if ! run "$sharelora" plot --run "$run_dir" | sed 's/^/  /'; then
  echo "  (no plots: 'sharelora plot' failed, see above)"
fi

# The end table (loss before and after, eval loss, tokens/s, bytes on the wire, recovery events, adapter, plots)
# comes from metrics.jsonl through `sharelora summary`; --json gives the same figures to scripts.
echo
echo "== summary ($elapsed s of training)"
run "$sharelora" summary --run "$run_dir"
