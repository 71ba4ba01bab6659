"""Helpers of the model and history fault tests: the OpenAI-style stub in a process
of its own, so a test can freeze it (SIGSTOP) or kill it like a real model server.

``python -m tests.faults.llm_helpers`` starts the stub and prints its port;
``python -m tests.faults.llm_helpers journal PG REDIS PREFIX CONVERSATION N``
queues N exchanges on a journaled history writer, prints ``queued`` and waits (to
be killed while the database is locked).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from bot.runtime import Runtime
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


class StubProcess:
    """``tests.fakes.openai_stub`` served by a child process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.llm_helpers"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the port, once it serves
        if not line.strip():
            self.proc.kill()
            raise RuntimeError("the stub process did not start")
        self.port = int(line)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def freeze(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.thaw()
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _serve() -> None:
    from tests.fakes.openai_stub import OpenAIStub

    stub = OpenAIStub(max_requests=10).start()
    print(stub.port, flush=True)  # the parent reads it
    while True:
        time.sleep(3600)


async def _journal(pg: str, redis: str, prefix: str, cid: str, n: int) -> None:
    import nonebot

    nonebot.init()
    from bot.store import init_store
    from plugins.history.journal import RedisJournal
    from plugins.history.store import exchange_rows
    from plugins.history.writer import HistoryWriter

    await init_store(pg, apply_migrations=False)
    writer = HistoryWriter(journal=RedisJournal(redis, "doomed", prefix))
    await writer.start()
    for i in range(n):
        await writer.add_durable(
            exchange_rows(cid, user_text=f"q{i}", platform_msg_id=None, answer=f"a{i}")
        )
    print("queued", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    if sys.argv[1:2] == ["journal"]:
        pg, redis, prefix, cid, n = sys.argv[2:7]
        asyncio.run(_journal(pg, redis, prefix, cid, int(n)))
    else:
        _serve()


@contextlib.asynccontextmanager
async def orm(url: str) -> AsyncIterator[None]:
    """The ORM connected to ``url`` (migrated) for the block."""
    from bot.store import close_store, init_store

    await init_store(url)
    try:
        yield
    finally:
        await close_store()


def load_plugins(*names: str) -> None:
    """Load FreeChat plugins through NoneBot, as the app does (once each; NoneBot
    must be initialised: the ``nonebug_init`` fixture)."""
    import nonebot

    for name in names:
        if sys.modules.get(f"plugins.{name}") is None:
            nonebot.load_plugin(f"plugins.{name}")


def make_runtime(settings: Settings | None = None) -> Runtime:
    """A runtime over in-process state and no model endpoint."""
    from bot.llm import LLMClient
    from bot.registry import StaticRegistry
    from bot.state import MemoryState

    settings = settings or Settings()
    registry = StaticRegistry([])
    return Runtime(
        settings=settings,
        state=MemoryState(),
        llm=LLMClient(registry, settings.llm),
        registry=registry,
    )
