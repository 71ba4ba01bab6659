"""The alert monitor: nothing for a blip shorter than ``after``, one alert per
incident however often the channel is reported down, a recovery notice only after
an alert, one alert across instances sharing the state."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from bot.runtime import Runtime
from tests.bot.send_harness import send_runtime

__all__ = ["send_runtime"]


@pytest.fixture
def monitor_class(nonebug_init: None) -> Any:
    import nonebot

    nonebot.get_plugin("alerts") or nonebot.load_plugin("plugins.alerts")
    from plugins.alerts.monitor import Monitor

    return Monitor


async def test_blips_storms_and_two_instances(
    monitor_class: Any, send_runtime: Runtime
) -> None:
    sent: list[tuple[str, str]] = []

    async def notify(text: str, avoid: str) -> None:
        sent.append((text.splitlines()[-1], avoid))

    first = monitor_class(0.3, notify)
    second = monitor_class(0.3, notify)  # another instance, same state
    first.down("QQ 1", "qq", "gone")
    await asyncio.sleep(0.1)
    first.up("QQ 1")  # a blip
    await asyncio.sleep(0.5)
    assert sent == []
    for _ in range(5):
        first.down("QQ 1", "qq", "gone")
        second.down("QQ 1", "qq", "gone")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.6)
    assert sent == [
        ("FreeChat alert: QQ 1 has been down for more than 0.3 s (gone).", "qq")
    ]
    second.up("QQ 1")  # it never alerted: no recovery from it
    first.up("QQ 1")
    first.up("QQ 1")
    await asyncio.sleep(0.2)
    assert len(sent) == 2
    assert sent[1][0].startswith("FreeChat recovered: QQ 1 is back")
    # the next incident alerts again
    first.down("QQ 1", "qq", "gone again")
    await asyncio.sleep(0.6)
    assert len(sent) == 3
    await first.stop()
    await second.stop()


async def test_llm_circuit_open_is_an_incident(
    monitor_class: Any, send_runtime: Runtime
) -> None:
    from bot.exceptions import LLMError
    from bot.llm import LLMClient
    from bot.registry import Endpoint, StaticRegistry
    from bot.settings import LLMSettings
    from plugins.alerts.monitor import watch_llm
    from tests.conftest import free_port

    port = free_port()
    dead = Endpoint(f"http://127.0.0.1:{port}/v1")
    llm = LLMClient(
        StaticRegistry([dead]),
        LLMSettings(model="m", circuit_failures=1, circuit_reset=1.0),
    )
    sent: list[str] = []

    async def notify(text: str, avoid: str) -> None:
        sent.append(text.splitlines()[-1])

    monitor = monitor_class(0.3, notify)
    task = asyncio.create_task(watch_llm(monitor, lambda: llm, 0.05))
    try:
        await asyncio.sleep(0.2)  # seen working
        with pytest.raises(LLMError):
            async for _ in llm.stream([{"role": "user", "content": "hi"}]):
                pass
        assert llm.circuit_open()
        await asyncio.sleep(1.0)  # down for longer than 0.3 s: one alert
        assert len(sent) == 1
        # the model comes back; nobody chats, so the circuit stays open, but the
        # endpoint answers again
        app = web.Application()
        app.router.add_get("/v1/models", lambda r: web.json_response({"data": []}))
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            await asyncio.sleep(1.0)
        finally:
            await runner.cleanup()
    finally:
        task.cancel()
        await monitor.stop()
        await llm.close()
    assert sent[0].startswith("FreeChat alert: LLM has been down for more than 0.3 s")
    assert sent[1].startswith("FreeChat recovered: LLM is back")
    assert len(sent) == 2
