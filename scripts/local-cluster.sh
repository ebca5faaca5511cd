#!/usr/bin/env bash
# Runs a job on a local cluster: a seed and N workers as separate processes on 127.0.0.1 (free ports), then
# `sharelora submit --wait`, and stops every process it started — also on failure or Ctrl-C. Every node and the submit
# run mutual TLS with throw-away certificates made in LOGS/certs (a fresh CA per run); --insecure-local skips TLS.
#   scripts/local-cluster.sh --workers N --job FILE [--set key=value ...] [--logs DIR] [--state DIR] [--insecure-local]
# The coordinator's state (docs/PERSISTENCE.md) goes to a fresh folder per invocation, deleted at the end, so a killed
# demo never resumes by itself next time; --state DIR keeps it there instead (a job interrupted with that state then
# continues by itself when the cluster starts again, and submitting it anew is refused while it runs).
# Exit code: that of `submit --wait` (0 = the job completed, 1 = it failed on the cluster, 2 = bad arguments).
# Each worker's process id is written to LOGS/worker-N.pid.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# SHARELORA_DLL=path/to/sharelora.dll runs an existing build (tests, benchmarks) instead of scripts/sharelora's Release build.
if [[ -n "${SHARELORA_DLL:-}" ]]; then cli_cmd=(dotnet "$SHARELORA_DLL"); else cli_cmd=("$here/sharelora"); fi
cli() { "${cli_cmd[@]}" "$@"; }

workers=""
job=""
logs="logs/local-cluster"
state=""
sets=()
tls=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --workers) workers="$2"; shift 2 ;;
    --job) job="$2"; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    --logs) logs="$2"; shift 2 ;;
    --state) state="$2"; shift 2 ;;
    --insecure-local) tls=0; shift ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ ! "$workers" =~ ^[1-9][0-9]*$ ]]; then echo "error: --workers must be a positive number (got '${workers}')" >&2; exit 2; fi
if [[ -z "$job" || ! -f "$job" ]]; then echo "error: --job must name an existing job file (got '${job}')" >&2; exit 2; fi

# Build once up front, so the nodes do not race to build.
cli --help > /dev/null

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # Give nodes a moment to leave the cluster cleanly, then make sure none is left.
  for _ in $(seq 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  [[ -n "${throwaway_state:-}" ]] && rm -rf "$throwaway_state"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free port for the seed: ask the kernel for one (bind to port 0), else probe upwards from a random start.
free_port() {
  if command -v python3 > /dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local port=$((20000 + RANDOM % 20000))
  while (echo > "/dev/tcp/127.0.0.1/$port") 2> /dev/null; do port=$((port + 1)); done
  echo "$port"
}

mkdir -p "$logs"
if [[ -z "$state" ]]; then
  state="$logs/state.$$"
  rm -rf "$state"
  throwaway_state="$state"
fi

# Throw-away certificates: a new CA for this run (the previous run's folder is replaced, never reused), one
# certificate per node and one for the submitting client. Written without a password, so the variable is cleared.
# tls_for NAME sets tls_opts to NAME's --cert/--ca (empty without TLS).
tls_opts=()
tls_for() { :; }
if [[ $tls == 1 ]]; then
  certs="$logs/certs"
  rm -rf "$certs"
  unset SHARELORA_CERT_PASSWORD
  cli certs init --out "$certs" > /dev/null
  for name in seed $(seq -f 'worker-%g' "$workers") client; do
    cli certs issue --ca "$certs" --name "$name" --out "$certs" > /dev/null
  done
  tls_for() { tls_opts=(--cert "$certs/$1.pfx" --ca "$certs/ca.crt"); }
  mode="mutual TLS, certificates in $certs"
else
  mode="no TLS (--insecure-local)"
fi

port="$(free_port)"
echo "local cluster: seed on 127.0.0.1:$port, $workers worker(s), $mode; node logs in $logs" >&2
tls_for seed
(exec "${cli_cmd[@]}" node seed --host 127.0.0.1 --port "$port" --logs "$logs" --state "$state" "${tls_opts[@]}" > "$logs/seed.out" 2>&1) &
pids+=($!)
for i in $(seq "$workers"); do
  tls_for "worker-$i"
  (exec "${cli_cmd[@]}" node worker --seed "127.0.0.1:$port" --host 127.0.0.1 --logs "$logs" "${tls_opts[@]}" > "$logs/worker-$i.out" 2>&1) &
  pids+=($!)
  # For whoever wants to stop one worker on purpose (demo.sh kills one mid-run to show the automatic recovery).
  echo $! > "$logs/worker-$i.pid"
done

# The coordinator waits for the workers itself (status "waiting for N workers, M up"), so submit at once.
set +e
tls_for client
cli submit --seed "127.0.0.1:$port" --job "$job" "${sets[@]}" --wait --timeout 60 "${tls_opts[@]}"
code=$?
set -e
exit $code
