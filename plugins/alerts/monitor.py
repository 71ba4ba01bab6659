"""Which connections are down, and since when: one alert per incident after
``after`` seconds, one recovery notice after an alert, nothing for a blip.

A channel is a NoneBot bot (``QQ 10001``, ``wecom helper``: the adapter reports its
connect and disconnect) or the LLM (every endpoint's circuit open). Instances that
share the state claim each incident, so several instances send one alert.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.runtime import get_runtime

log = logging.getLogger("freechat.alerts")

#: ``(text, platform to avoid) -> None``
Notify = Callable[[str, str], Awaitable[Any]]


class Monitor:
    def __init__(self, after: float, notify: Notify) -> None:
        self.after = after
        self.notify = notify
        #: channel -> (monotonic time it went down, why)
        self.down_since: dict[str, tuple[float, str]] = {}
        #: channel -> monotonic time it went down, for channels alerted about
        self.alerted: dict[str, float] = {}
        self.tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def down(self, channel: str, platform: str, why: str) -> None:
        if channel in self.down_since:
            return  # the same incident
        since = time.monotonic()
        self.down_since[channel] = (since, why)
        log.warning("alerts: %s is down (%s)", channel, why)
        self._spawn(self._alert_later(channel, platform, since, why))

    def up(self, channel: str) -> None:
        self.down_since.pop(channel, None)
        since = self.alerted.pop(channel, None)
        if since is not None:
            self._spawn(self._recovered(channel, time.monotonic() - since))

    async def _alert_later(
        self, channel: str, platform: str, since: float, why: str
    ) -> None:
        await asyncio.sleep(self.after)
        if self.down_since.get(channel, (None, ""))[0] != since:
            return  # back in time (or a newer incident has its own timer)
        if not await get_runtime().state.claim(f"alerts:down:{channel}", 86400.0):
            return  # another instance tells them
        self.alerted[channel] = since
        await self.notify(
            f"FreeChat 告警：{channel} 已断开超过 {self.after:g} 秒（{why}）。\n"
            f"FreeChat alert: {channel} has been down for more than "
            f"{self.after:g} s ({why}).",
            platform,
        )

    async def _recovered(self, channel: str, down_for: float) -> None:
        await get_runtime().state.delete(f"alerts:down:{channel}")
        await self.notify(
            f"FreeChat 恢复：{channel} 已恢复（中断约 {down_for:.0f} 秒）。\n"
            f"FreeChat recovered: {channel} is back (down for about {down_for:.0f} s).",
            "",
        )

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5)


async def watch_llm(monitor: Monitor, llm: Callable[[], Any], interval: float) -> None:
    """Report the LLM down while every endpoint's circuit is open and none answers
    (once it has been seen working: no endpoint at start-up is not an incident)."""
    seen_closed = False
    while True:
        await asyncio.sleep(interval)
        client = llm()
        # an open circuit closes only with a real request; with nobody chatting,
        # an endpoint that answers again (GET /models) counts as back
        if client.circuit_open() and not await client.ping():
            if seen_closed:
                monitor.down("LLM", "", "every endpoint's circuit is open / 模型不可用")
        else:
            seen_closed = True
            monitor.up("LLM")
