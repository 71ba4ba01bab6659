"""Shared fixtures: real PostgreSQL and Redis, an OpenAI-style stub server, the demo
model, and whole FreeChat processes started the way users start them."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.fakes.openai_stub import OpenAIStub

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "FREECHAT_TEST_PG", "postgres://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("FREECHAT_TEST_REDIS", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- PostgreSQL and Redis ------------------------------------------------------------


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database (dropped afterwards)."""
    import asyncpg

    name = f"fc_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
def redis_url() -> str:
    """The test Redis server (use a unique key prefix: see ``redis_prefix``)."""
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    return f"fctest:{uuid.uuid4().hex[:10]}:"


# -- the OpenAI-style stub -----------------------------------------------------------


@pytest.fixture(scope="session")
def _stub_server() -> Iterator[OpenAIStub]:
    stub = OpenAIStub().start()
    yield stub
    stub.stop()


@pytest.fixture
def openai_stub(_stub_server: OpenAIStub) -> OpenAIStub:
    """A streaming OpenAI-compatible server on loopback, reset for each test."""
    _stub_server.reset()
    return _stub_server


# -- the demo model -------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight demo model, built once per test session."""
    from inference.demo_model import build_demo_model

    cache = os.environ.get("FREECHAT_TEST_MODEL_CACHE")
    path = Path(cache) if cache else tmp_path_factory.mktemp("demo-model") / "model"
    return build_demo_model(path)


# -- whole FreeChat processes ---------------------------------------------------------


@dataclass
class BotProcess:
    """A ``freechat run`` subprocess."""

    port: int
    config_path: Path
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, input: str | None = None) -> str:
        """Run ``freechat --config <this config> ARGS`` and return its stdout."""
        out = subprocess.run(
            [sys.executable, "-m", "bot.cli", "--config", str(self.config_path), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.data_dir.parent,
            timeout=60,
            check=True,
        )
        return out.stdout.strip()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return int(self.proc.returncode or 0)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture
async def bot_process(
    tmp_path: Path, openai_stub: OpenAIStub
) -> AsyncIterator[Callable[..., Awaitable[BotProcess]]]:
    """Factory: ``await bot_process(config)`` starts FreeChat with ``config`` merged
    over test defaults (SQLite in tmp, memory state, the OpenAI stub as LLM, a free
    port) and waits until it serves; every process is stopped afterwards."""
    started: list[BotProcess] = []

    async def start(
        config: dict[str, Any] | None = None, *, start_timeout: float = 60.0
    ) -> BotProcess:
        n = len(started)
        workdir = tmp_path / f"bot{n}"
        data_dir = workdir / "data"
        data_dir.mkdir(parents=True)
        port = free_port()
        defaults: dict[str, Any] = {
            "data_dir": str(data_dir),
            "server": {"host": "127.0.0.1", "port": port, "log_level": "INFO"},
            "database": {"url": f"sqlite://{data_dir}/freechat.db"},
            "state": {"url": "memory://"},
            "llm": {"base_url": openai_stub.base_url, "model": "stub-model"},
            "inference": {"enabled": False},
        }
        cfg = _merge(defaults, config or {})
        cfg["server"]["port"] = port
        config_path = workdir / "freechat.yml"
        config_path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
        env = {k: v for k, v in os.environ.items() if not k.startswith("FREECHAT__")}
        env.update(
            HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", FREECHAT_CONFIG=str(config_path)
        )
        log_path = workdir / "bot.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once
                [
                    sys.executable,
                    "-m",
                    "bot.cli",
                    "--config",
                    str(config_path),
                    "run",
                    "--no-ui-build",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env=env,
            )
        bp = BotProcess(port, config_path, data_dir, proc, log_path, env)
        started.append(bp)
        deadline = asyncio.get_running_loop().time() + start_timeout
        async with httpx.AsyncClient() as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"freechat exited early:\n{bp.log()[-4000:]}")
                try:
                    resp = await client.get(f"{bp.base_url}/health", timeout=1.0)
                    if resp.status_code == 200:
                        return bp
                except httpx.HTTPError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"freechat did not start:\n{bp.log()[-4000:]}")
                await asyncio.sleep(0.2)

    yield start
    for bp in started:
        bp.stop()
