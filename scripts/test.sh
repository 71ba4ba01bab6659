#!/usr/bin/env bash
# Sets up everything the tests need and runs lint, types, the front-end tests and the
# whole Python test suite. Needs PostgreSQL (127.0.0.1:5432, database "test") and
# Redis (127.0.0.1:6379); starts them when their Debian packages are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1

echo "==> Checking PostgreSQL and Redis"
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && command -v redis-server >/dev/null; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi

if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> Installing Debian's chromium for the browser tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
    >/dev/null || echo "chromium could not be installed: browser tests will fail"
fi

echo "==> Lint and types"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy

if command -v npm >/dev/null && [ -f webui/frontend/package.json ]; then
  echo "==> Web UI: install, unit tests, build"
  (cd webui/frontend && npm ci --no-audit --no-fund --loglevel=error && npm test && npm run build)
fi

echo "==> Python tests"
export FREECHAT_REQUIRE_BROWSER=1
.venv/bin/pytest "$@"
