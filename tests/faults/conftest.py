"""Fault scenarios: a Redis server each test owns (killed, frozen, restarted on the
same port), FreeChat processes sharing PostgreSQL and that Redis, and a NapCat-like
OneBot client on each of them.

The shared Redis of the machine is never touched: :class:`RedisServer` starts its
own ``redis-server`` on a free port, without persistence (a restart comes back
empty, like a Redis that lost its data).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.qq.adapter_harness import eventually
from tests.adapters.qq.napcat import NapCat, text_of
from tests.conftest import BotProcess, free_port

__all__ = [
    "TOKEN",
    "BotPair",
    "NapCat",
    "RedisServer",
    "connect",
    "eventually",
    "kill",
    "qq_config",
    "text_of",
]

#: the OneBot access token of the bots these tests start
TOKEN = "fault-token"


class RedisServer:
    """A ``redis-server`` of the test's own, on a fixed port across restarts."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.frozen = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start (or start again after :meth:`kill`) and wait until it answers."""
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.frozen = False
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on {self.port}")
            time.sleep(0.02)
        return self

    def answers(self, timeout: float = 0.5) -> bool:
        """True when the server answers PING (a raw RESP exchange)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: connections die, the data is gone."""
        if self.proc is not None and self.proc.poll() is None:
            if self.frozen:
                self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)
        self.frozen = False

    def freeze(self) -> None:
        """SIGSTOP: connections stay open, nothing answers (a hung server)."""
        assert self.proc is not None
        assert self.proc.poll() is None
        self.proc.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        """SIGCONT after :meth:`freeze`."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)
        self.frozen = False

    def restart(self) -> RedisServer:
        """Kill, then start again on the same port."""
        self.kill()
        return self.start()

    def stop(self) -> None:
        self.kill()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, started; stopped (even frozen) afterwards."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


# -- FreeChat processes ---------------------------------------------------------------


def qq_config(**extra: Any) -> dict[str, Any]:
    """A bot config with the QQ adapter (no send interval) merged with ``extra``."""
    qq = {"access_token": TOKEN, "min_interval": 0, **extra.pop("qq", {})}
    return {"adapters": {"qq": qq}, **extra}


async def connect(bp: BotProcess, self_id: int = 10001) -> NapCat:
    """A NapCat-like client connected to ``bp``'s OneBot v11 endpoint."""
    url = f"ws://127.0.0.1:{bp.port}/onebot/v11/ws"
    return await NapCat(url, self_id, TOKEN).connect()


@dataclass
class BotPair:
    """Bot processes that share one PostgreSQL database and one Redis."""

    start_bot: Callable[..., Awaitable[BotProcess]]
    config: dict[str, Any]
    bots: list[BotProcess] = field(default_factory=list)
    peers: list[NapCat] = field(default_factory=list)

    async def start(self, n: int = 1) -> list[BotProcess]:
        """Start ``n`` more instances (one at a time: the first migrates)."""
        new = [await self.start_bot(self.config) for _ in range(n)]
        self.bots += new
        return new

    async def connect(self, bp: BotProcess) -> NapCat:
        peer = await connect(bp)
        self.peers.append(peer)
        return peer

    def sends(self) -> list[dict[str, Any]]:
        """Every ``send_msg`` any client got."""
        return [call for peer in self.peers for call in peer.sends()]

    async def close(self) -> None:
        for peer in self.peers:
            await peer.close()


@pytest.fixture
async def bot_pair(
    bot_process: Callable[..., Awaitable[BotProcess]],
    pg_url: str,
    redis_server: RedisServer,
) -> AsyncIterator[Callable[..., BotPair]]:
    """Factory: ``bot_pair(**config)`` is a :class:`BotPair` whose instances use
    ``pg_url``, ``redis_server`` and the OpenAI stub; start them with ``start``."""
    pairs: list[BotPair] = []

    def make(**extra: Any) -> BotPair:
        state = {"url": redis_server.url, **extra.pop("state", {})}
        config = qq_config(database={"url": pg_url}, state=state, **extra)
        pair = BotPair(bot_process, config)
        pairs.append(pair)
        return pair

    yield make
    for pair in pairs:
        await pair.close()


def kill(bp: BotProcess) -> None:
    """SIGKILL a bot process (no shutdown at all)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(bp.proc.pid, signal.SIGKILL)
    bp.proc.wait(10)
