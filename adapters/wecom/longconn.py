"""The AI bot's long connection: one client WebSocket per bot.

``aibot_subscribe`` (bot id + secret) must be answered ``errcode 0``; then callbacks
(``aibot_msg_callback``, ``aibot_event_callback``) arrive and answers go out as
``aibot_respond_msg`` frames. A ``ping`` goes out every ``wecom_heartbeat`` seconds;
silence for 2.5 heartbeats means a dead link. Lost connections come back with
doubling backoff (with jitter). A ``disconnected_event`` means another connection
subscribed with this bot id: the status becomes ``replaced`` and this instance stays
off (or retries after ``wecom_kicked_retry`` seconds), so two deployments never
fight over one bot.

Within one deployment, instances sharing the state hold a lease
(``wecom:lease:<bot_id>``, renewed every third of ``wecom_lease_ttl``): only the holder
connects, the others stand by and take over when the lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from nonebot.drivers import Request, WebSocket
from nonebot.exception import WebSocketClosed

from bot.state import StateStore

from .config import Config, WeComBot
from .exception import ConnectionKicked, SubscribeError

log = logging.getLogger("freechat.adapters.wecom")

FrameHandler = Callable[["LongConnection", dict[str, Any]], Awaitable[None]]
Connector = Callable[[Request], Any]


def new_req_id() -> str:
    return uuid.uuid4().hex


class Lease:
    """Who of several instances holds the bot's one connection."""

    def __init__(
        self,
        state: Callable[[], StateStore],
        key: str,
        ttl: float,
        instance: str = "",
    ) -> None:
        self.state = state
        self.key = key
        self.ttl = ttl
        # the instance id first, so the console can tell who holds it
        self.owner = f"{instance or 'instance'}/{uuid.uuid4().hex[:12]}"

    async def holder(self) -> str | None:
        """The owner that holds the lease now (any instance), or None."""
        value = await self.state().get(self.key)
        return None if value is None else str(value)

    async def acquire(self) -> bool:
        state = self.state()
        if await state.claim(self.key, self.ttl):
            await state.set(self.key, self.owner, ttl=self.ttl)
            return True
        return await state.get(self.key) == self.owner

    async def renew(self) -> bool:
        state = self.state()
        if await state.get(self.key) != self.owner:
            return False
        await state.set(self.key, self.owner, ttl=self.ttl)
        return True

    async def release(self) -> None:
        state = self.state()
        if await state.get(self.key) == self.owner:
            await state.delete(self.key)


class LongConnection:
    """Keeps one bot's WebSocket up; ``send`` is safe from any task."""

    def __init__(
        self,
        bot: WeComBot,
        config: Config,
        connect: Connector,
        on_frame: FrameHandler,
        on_status: Callable[[LongConnection, str], None],
        lease: Lease | None = None,
    ) -> None:
        self.bot = bot
        self.config = config
        self._connect = connect
        self._on_frame = on_frame
        self._on_status = on_status
        self.lease = lease
        self.ws: WebSocket | None = None
        self.status = "starting"
        self._send_lock = asyncio.Lock()
        self._stopped = False
        self.tasks: set[asyncio.Task[Any]] = set()

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self._on_status(self, status)

    async def send(self, frame: dict[str, Any]) -> bool:
        """Send one frame; False when not connected."""
        ws = self.ws
        if ws is None or ws.closed:
            return False
        data = json.dumps(frame, ensure_ascii=False)
        async with self._send_lock:
            try:
                await ws.send_text(data)
            except (WebSocketClosed, OSError, RuntimeError) as exc:
                log.warning("wecom %s: send failed: %s", self.bot.name, exc)
                return False
        return True

    async def run(self) -> None:
        backoff = self.config.wecom_reconnect_min
        while not self._stopped:
            if self.lease is not None and not await self.lease.acquire():
                self._set_status("standby")
                await asyncio.sleep(self.lease.ttl / 3)
                continue
            try:
                await self._session()
                backoff = self.config.wecom_reconnect_min
            except ConnectionKicked:
                self._set_status("replaced")
                log.error(
                    "wecom %s: another connection subscribed with this bot id "
                    "(disconnected_event); this instance stops serving it",
                    self.bot.name,
                )
                if self.config.wecom_kicked_retry <= 0:
                    return
                await asyncio.sleep(self.config.wecom_kicked_retry)
                continue
            except SubscribeError as exc:
                self._set_status("refused")
                log.error("wecom %s: %s", self.bot.name, exc)
                backoff = self.config.wecom_reconnect_max
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any transport failure: reconnect
                self._set_status("disconnected")
                log.warning("wecom %s: connection lost: %r", self.bot.name, exc)
            if self._stopped:
                return
            await asyncio.sleep(backoff * (0.8 + 0.4 * random.random()))
            backoff = min(backoff * 2, self.config.wecom_reconnect_max)

    async def _session(self) -> None:
        request = Request("GET", self.config.wecom_ws_url, timeout=30.0)
        async with self._connect(request) as ws:
            self.ws = ws
            try:
                await self._subscribe(ws)
                self._set_status("connected")
                helpers = [asyncio.create_task(self._heartbeat(ws))]
                if self.lease is not None:
                    helpers.append(
                        asyncio.create_task(self._keep_lease(ws, self.lease))
                    )
                try:
                    await self._receive(ws)
                finally:
                    for task in helpers:
                        task.cancel()
                    await asyncio.gather(*helpers, return_exceptions=True)
            finally:
                self.ws = None

    async def _subscribe(self, ws: WebSocket) -> None:
        req_id = new_req_id()
        await ws.send_text(
            json.dumps(
                {
                    "cmd": "aibot_subscribe",
                    "headers": {"req_id": req_id},
                    "body": {"bot_id": self.bot.bot_id, "secret": self.bot.secret},
                }
            )
        )
        async with asyncio.timeout(10):
            while True:
                frame = _decode(await ws.receive())
                if frame is None:
                    continue
                if frame.get("headers", {}).get("req_id") == req_id:
                    code = int(frame.get("errcode", -1))
                    if code:
                        raise SubscribeError(code, str(frame.get("errmsg", "")))
                    return

    async def _keep_lease(self, ws: WebSocket, lease: Lease) -> None:
        while True:
            await asyncio.sleep(lease.ttl / 3)
            if not await lease.renew():
                log.warning(
                    "wecom %s: lease lost, closing the connection", self.bot.name
                )
                await ws.close()
                return

    async def _heartbeat(self, ws: WebSocket) -> None:
        while True:
            await asyncio.sleep(self.config.wecom_heartbeat)
            await self.send({"cmd": "ping", "headers": {"req_id": new_req_id()}})

    async def _receive(self, ws: WebSocket) -> None:
        silence = self.config.wecom_heartbeat * 2.5
        while True:
            try:
                async with asyncio.timeout(silence):
                    raw = await ws.receive()
            except TimeoutError:
                log.warning(
                    "wecom %s: no frame for %.0f s, reconnecting",
                    self.bot.name,
                    silence,
                )
                await ws.close()
                return
            frame = _decode(raw)
            if frame is None:
                log.warning("wecom %s: undecodable frame ignored", self.bot.name)
                continue
            if _is_kick(frame):
                raise ConnectionKicked(self.bot.name)
            try:
                await self._on_frame(self, frame)
            except Exception:  # one bad frame must not end the connection
                log.exception("wecom %s: frame handling failed", self.bot.name)

    async def stop(self) -> None:
        self._stopped = True
        ws = self.ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close()
        if self.lease is not None:
            await self.lease.release()


def _decode(raw: str | bytes) -> dict[str, Any] | None:
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return frame if isinstance(frame, dict) else None


def _is_kick(frame: dict[str, Any]) -> bool:
    if frame.get("cmd") != "aibot_event_callback":
        return False
    body = frame.get("body")
    if not isinstance(body, dict):
        return False
    event = body.get("event")
    return isinstance(event, dict) and event.get("eventtype") == "disconnected_event"
