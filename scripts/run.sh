#!/usr/bin/env bash
# Sets up and starts FreeChat on embedded defaults (SQLite, in-process state, the
# embedded inference engine, web UI at http://127.0.0.1:8080/).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/freechat run "$@"
