"""`freechat inference register`: an external engine in the fake Consul while it is up."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest
from aiohttp import web

from bot.registry import ConsulRegistry
from inference.register import ExternalEngine, parse_target
from tests.conftest import free_port
from tests.fakes.consul import FakeConsul


class FakeEngine:
    """An OpenAI-compatible server that lists one model; it can go down and up."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _models(self, _: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "m"}]})

    async def up(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def down(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def until(check: Callable[[], bool], within: float = 20.0) -> None:
    for _ in range(int(within / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_registered_while_up_removed_while_down() -> None:
    consul = await FakeConsul().start()
    engine = FakeEngine(free_port())
    watcher = ExternalEngine(
        engine.url, consul.url, interval=0.05, timeout=1.0, unhealthy_after=2
    )
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    registry = ConsulRegistry(consul.url, "freechat-inference")
    try:
        await until(lambda: watcher.checks >= 3)
        assert consul.services == {}  # not up yet: never registered
        await engine.up()
        await until(lambda: bool(consul.services))
        (svc,) = consul.services.values()
        assert svc["Check"]["HTTP"] == f"{engine.url}/models"
        await registry.refresh()
        assert [e.base_url for e in registry.endpoints()] == [engine.url]
        await engine.down()
        await until(lambda: not consul.services)
        await engine.up()
        await until(lambda: bool(consul.services))
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await engine.down()
        await registry.stop()
    assert consul.services == {}  # deregistered on exit
    await consul.stop()


async def test_one_failed_check_is_not_enough() -> None:
    consul = await FakeConsul().start()
    engine = FakeEngine(free_port())
    await engine.up()
    watcher = ExternalEngine(engine.url, consul.url, unhealthy_after=3)
    async with httpx.AsyncClient(timeout=1.0) as client:
        await watcher.check(client)
        assert consul.services
        await engine.down()
        await watcher.check(client)
        await watcher.check(client)
        assert consul.services  # two failures of three
        await watcher.check(client)
        assert not consul.services
    await consul.stop()


async def test_consul_unreachable_is_retried() -> None:
    engine = FakeEngine(free_port())
    await engine.up()
    watcher = ExternalEngine(engine.url, f"http://127.0.0.1:{free_port()}")
    async with httpx.AsyncClient(timeout=1.0) as client:
        await watcher.check(client)  # logged, not raised
        assert not watcher.registered
        consul = await FakeConsul().start()
        watcher.registration.agent_url = consul.url
        await watcher.check(client)  # the next check registers
        assert watcher.registered
        assert consul.services
    await engine.down()
    await consul.stop()


def test_parse_target() -> None:
    assert parse_target("http://gpu-1:8000/v1").base_url == "http://gpu-1:8000/v1"
    assert parse_target("http://10.0.0.5:11434").path == "/v1"
    for bad in ("https://h/v1", "ftp://h", "http://:80", "http://h:99999/v1"):
        with pytest.raises(ValueError, match="http"):
            parse_target(bad)


async def test_cli_registers_and_deregisters_on_sigterm() -> None:
    consul = await FakeConsul().start()
    engine = FakeEngine(free_port())
    await engine.up()
    proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once
        [
            sys.executable,
            "-m",
            "inference",
            "register",
            "--url",
            engine.url,
            "--consul-url",
            consul.url,
            "--interval",
            "0.2",
        ],
    )
    try:
        await until(lambda: bool(consul.services) or proc.poll() is not None, 60)
        assert consul.services
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 20) == 0
        assert consul.services == {}
    finally:
        if proc.poll() is None:
            proc.kill()
        await engine.down()
        await consul.stop()
