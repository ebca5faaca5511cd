#!/usr/bin/env bash
# Starts the seed node of a ShareLoRA cluster in the foreground:
#   scripts/start-seed.sh [--host H] [--port P] [--config FILE] [--logs DIR] [--state DIR] [--cert NODE.pfx --ca ca.crt | --insecure]
# The coordinator's state (which job is active, its last committed checkpoint) is kept in --state (default LOGS/state,
# SQLite file coordinator.db) across restarts: restart the seed with the same --state (and port) after a crash and the
# job that was running continues by itself from its last checkpoint once workers join (docs/PERSISTENCE.md). Running
# workers (scripts/start-worker.sh) join the restarted seed by themselves; they need no restart.
# A non-loopback --host needs --cert/--ca (docs/SECURITY.md) or an explicit --insecure.
# exec: this script's pid becomes the node's pid, so `kill <pid>` (SIGTERM) reaches the node and it leaves cleanly.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/sharelora" node seed "$@"
