#!/usr/bin/env bash
# Starts a worker node in the foreground, one per device:
#   scripts/start-worker.sh --seed H:P [--host H] [--port P] [--device cpu|cuda:N] [--threads N] [--config FILE]
#                           [--cert NODE.pfx --ca ca.crt | --insecure]   (TLS: docs/SECURITY.md)
# exec: this script's pid becomes the node's pid, so `kill <pid>` (SIGTERM) reaches the node and it leaves cleanly.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/sharelora" node worker "$@"
