#!/usr/bin/env bash
# README main job: set everything up, then run the headless simulated exploration-and-navigation demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/toponav demo "$@"
