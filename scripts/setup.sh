#!/usr/bin/env bash
# Creates .venv and installs FreeChat with its development tools, at the versions in
# constraints.txt. Idempotent: a second run only reinstalls when pyproject.toml or
# constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "FreeChat needs Python 3.11 or newer ($PY is $("$PY" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> Creating the virtual environment (.venv)"
  "$PY" -m venv .venv
fi
stamp=.venv/.freechat-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> Installing FreeChat and its dependencies (first run: a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  # the CPU build of torch, pinned: any other spec pulls gigabytes of CUDA wheels
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[dev]" -c constraints.txt \
    --config-settings editable_mode=compat
  echo "$want" > "$stamp"
fi
