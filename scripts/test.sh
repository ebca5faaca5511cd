#!/usr/bin/env bash
# Runs the whole test suite (the README's test command). Tests that need ../shared skip visibly without it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dotnet test ShareLoRA.Actors.sln -c Release --nologo "$@"
