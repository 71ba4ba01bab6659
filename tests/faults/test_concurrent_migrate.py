"""D6: two ``freechat migrate`` (or two bots starting) at once on a fresh database
must both succeed: migrations run under a lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
import yaml

from tests.conftest import ROOT


def _migrate_together(tmp_path: Path, url: str, n: int) -> list[subprocess.Popen[str]]:
    config = tmp_path / "freechat.yml"
    config.write_text(yaml.safe_dump({"database": {"url": url}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREECHAT__")}
    command = [sys.executable, "-m", "bot.cli", "--config", str(config), "migrate"]
    procs = [
        subprocess.Popen(
            command,
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(n)
    ]
    for proc in procs:
        proc.wait(120)
    return procs


def _check(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        output = proc.stdout.read() if proc.stdout else ""
        assert proc.returncode == 0, output[-3000:]


@pytest.mark.parametrize("attempt", range(2))
async def test_two_migrations_at_once_on_fresh_postgres(
    tmp_path: Path, pg_url: str, attempt: int
) -> None:
    _check(_migrate_together(tmp_path, pg_url, 2))
    conn = await asyncpg.connect(pg_url)
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        }
    finally:
        await conn.close()
    assert {"users", "messages", "conversations"} <= tables


async def test_two_migrations_at_once_on_fresh_sqlite(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/data/freechat.db"
    _check(_migrate_together(tmp_path, url, 2))
