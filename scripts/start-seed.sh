#!/usr/bin/env bash
# Starts the seed node of a ShareLoRA cluster in the foreground:
#   scripts/start-seed.sh [--host H] [--port P] [--config FILE] [--cert NODE.pfx --ca ca.crt | --insecure]
# A non-loopback --host needs --cert/--ca (docs/SECURITY.md) or an explicit --insecure.
# exec: this script's pid becomes the node's pid, so `kill <pid>` (SIGTERM) reaches the node and it leaves cleanly.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/sharelora" node seed "$@"
