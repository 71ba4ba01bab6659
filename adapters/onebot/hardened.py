"""What the QQ (OneBot v11) and WeChat (OneBot v12) adapters share on top of the
stock adapters: their connections, admission and access checks.

- a new connection for a self id replaces the old one at once, the old one closed
  in the background even when it is half-open; a send waits up to
  ``reconnect_grace`` for a known bot that is reconnecting instead of failing;
- message events beyond ``max_in_flight`` per bot are shed before a task exists
  (:class:`~adapters.qq.guard.EntryGate`, :class:`~adapters.qq.guard.BusyNotifier`);
- each message is handled once across instances, and handed back if its answer
  fails (:func:`~adapters.onebot.guard.handling_once`);
- the access token is required off loopback and compared in constant time, taken
  from the ``Authorization`` header only (tokens in URLs end up in logs).

Each adapter keeps what differs: how frames map to bots (one per socket in v11,
any number in v12), the event models and the API frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from nonebot.adapters import Adapter as BaseAdapter
from nonebot.adapters import Event
from nonebot.adapters.onebot.utils import get_auth_bearer
from nonebot.drivers import Request, Response, WebSocket
from nonebot.utils import escape_tag, logger_wrapper

from bot.exceptions import ConfigError

from .guard import (
    BusyNotifier,
    EchoStore,
    EntryGate,
    RecentIds,
    ThrottledLog,
    handling_once,
)

CLOSE_TIMEOUT = 2.0


def is_loopback(host: Any) -> bool:
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return str(host) == "localhost"


class OneBotBot(Protocol):
    """The part of a stock OneBot bot (v11 or v12) used here."""

    @property
    def self_id(self) -> str: ...

    async def handle_event(self, event: Any) -> None: ...

    async def call_api(self, api: str, **data: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Hardening:
    """One adapter's settings for what :class:`HardenedOneBot` does."""

    #: "qq", "wechat": metrics labels and dedup keys
    platform: str
    #: the settings section, for errors ("adapters.qq")
    section: str
    access_token: str | None
    max_in_flight: int
    shed: str
    busy_text: str
    busy_cooldown: float
    dedup_ttl: float
    reconnect_grace: float

    @classmethod
    def of(cls, config: Any, platform: str) -> Hardening:
        """From an adapter's settings, whose keys are ``<platform>_<name>``."""

        def get(name: str) -> Any:
            return getattr(config, f"{platform}_{name}")

        return cls(
            platform=platform,
            section=f"adapters.{platform}",
            access_token=get("access_token"),
            max_in_flight=get("max_in_flight"),
            shed=get("shed"),
            busy_text=get("busy_text"),
            busy_cooldown=get("busy_cooldown"),
            dedup_ttl=get("dedup_ttl"),
            reconnect_grace=get("reconnect_grace"),
        )


class HardenedOneBot(BaseAdapter):
    """A mixin for a stock OneBot adapter: put it first among the bases and call
    :meth:`_harden` from ``__init__``."""

    hardening: Hardening

    def _harden(self, hardening: Hardening) -> None:
        host = self.config.host
        if not hardening.access_token and not is_loopback(host):
            raise ConfigError(
                f"{hardening.section}.access_token: required when server.host "
                f"({host}) is not a loopback address"
            )
        self.hardening = hardening
        self.connections: dict[str, WebSocket] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.echoes = EchoStore()
        self.recent = RecentIds()
        self.gate = EntryGate(hardening.max_in_flight)
        self.busy = BusyNotifier(
            hardening.platform, mode=hardening.shed, cooldown=hardening.busy_cooldown
        )
        self.bad_frames = ThrottledLog(self.get_name())
        self._log = logger_wrapper(self.get_name())
        self._connected: dict[str, asyncio.Event] = {}

    # ----------------------------------------------------------------- tasks
    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _stop(self) -> None:
        tasks = list(self.tasks) + list(self.busy.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(
            *(asyncio.wait_for(t, timeout=10) for t in tasks), return_exceptions=True
        )

    async def _handle(self, bot: OneBotBot, event: Event, gated: str | None) -> None:
        """Handle one admitted event; a message once across instances. ``gated``:
        the self id whose gate slot the event holds, given back at the end."""
        try:
            # (only messages: a recall notice carries the id of the message it
            # recalls)
            if event.get_type() != "message":
                await bot.handle_event(event)
                return
            message_id = str(getattr(event, "message_id", ""))
            answered = False
            try:
                async with handling_once(
                    self.hardening.platform,
                    bot.self_id,
                    message_id,
                    self.hardening.dedup_ttl,
                ) as mine:
                    if not mine:
                        self._log("DEBUG", f"duplicate message {message_id} ignored")
                        return
                    await bot.handle_event(event)
                    answered = True
            finally:
                if not answered:  # not ours, or given back: the claim decides next
                    self.recent.discard(f"{bot.self_id}:{message_id}")
        except Exception as exc:
            self._log("ERROR", f"handling an event failed: {exc!r}", exc)
        finally:
            if gated is not None:
                self.gate.leave(gated)

    def _shed(
        self,
        bot: OneBotBot | None,
        chat: str,
        api: str,
        params: dict[str, Any] | None,
    ) -> None:
        """Count a message shed in ``chat``; maybe answer "busy" by calling ``api``
        with ``params`` (None: the event does not say where to answer)."""
        send = None
        if bot is not None and params is not None:
            text = self.hardening.busy_text

            async def send() -> Any:
                message = [{"type": "text", "data": {"text": text}}]
                return await bot.call_api(api, message=message, _timeout=5.0, **params)

        self.busy.shed(chat, send)

    # ------------------------------------------------------------ connections
    def _replace(self, self_id: str, websocket: WebSocket) -> None:
        """Make ``websocket`` the connection of ``self_id``; close an old one that
        no other bot uses."""
        old = self.connections.get(self_id)
        self.connections[self_id] = websocket
        if (
            old is not None
            and old is not websocket
            and not any(c is old for c in self.connections.values())
        ):
            self._log(
                "WARNING", f"Bot {escape_tag(self_id)} reconnected: old socket replaced"
            )
            self._spawn(self._close_quietly(old, "replaced by a new connection"))
        self._connected.setdefault(self_id, asyncio.Event()).set()

    def _detach(self, self_id: str, websocket: WebSocket) -> None:
        """Forget ``websocket``; disconnect the bot unless a newer socket took over."""
        if self.connections.get(self_id) is not websocket:
            return
        del self.connections[self_id]
        if event := self._connected.get(self_id):
            event.clear()
        if bot := self.bots.get(self_id):
            self.bot_disconnect(bot)

    @staticmethod
    async def _close_quietly(websocket: WebSocket, reason: str = "bye") -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(1000, reason), CLOSE_TIMEOUT)

    async def _connection(self, self_id: str) -> WebSocket | None:
        ws = self.connections.get(self_id)
        grace = self.hardening.reconnect_grace
        if ws is not None or self_id not in self._connected or grace <= 0:
            return ws
        # a known bot is reconnecting: wait briefly rather than fail the send
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._connected[self_id].wait(), grace)
        return self.connections.get(self_id)

    # ---------------------------------------------------------------- access
    def token_gate(self, headers: Mapping[str, str]) -> tuple[int, str] | None:
        """The access-token check on bare headers, for ``bot.http_guard.before_body``:
        an HTTP POST without the token is refused before its body is read."""
        expected = self.hardening.access_token
        if not expected:
            return None
        token = get_auth_bearer(headers.get("authorization")) or ""
        if hmac.compare_digest(token.encode(), expected.encode()):
            return None
        return (
            (403, "Authorization Header is invalid")
            if token
            else (
                401,
                "Missing Authorization Header",
            )
        )

    def _check_access_token(self, request: Request) -> Response | None:
        expected = self.hardening.access_token
        if not expected:
            return None
        token = get_auth_bearer(request.headers.get("authorization")) or ""
        if hmac.compare_digest(token.encode(), expected.encode()):
            return None
        msg = (
            "Authorization Header is invalid"
            if token
            else "Missing Authorization Header"
        )
        self._log("WARNING", msg)
        return Response(401 if not token else 403, content=msg)
