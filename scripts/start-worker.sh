#!/usr/bin/env bash
# Starts a worker node in the foreground, one per device:
#   scripts/start-worker.sh --seed H:P [--host H] [--port P] [--device cpu|cuda:N] [--threads N] [--config FILE]
#                           [--cert NODE.pfx --ca ca.crt | --insecure]   (TLS: docs/SECURITY.md)
#                           [--no-rejoin]
# When the seed is killed and restarted (scripts/start-seed.sh, same --port and --state), the worker joins it again by
# itself: a new ActorSystem in the same process, retried with a backoff of 1 s doubling to 15 s for as long as the seed
# is away. --no-rejoin exits instead (code 3 downed, 4 seed lost) for a supervisor that restarts processes itself.
# exec: this script's pid becomes the node's pid, so `kill <pid>` (SIGTERM) reaches the node and it leaves cleanly.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/sharelora" node worker "$@"
