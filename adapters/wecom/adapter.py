"""The WeCom adapter: AI bots over the long connection (default) or webhook
callbacks, self-built apps over callbacks and ``message/send``; all callbacks at
``/wecom/<name>``."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import httpx
from nonebot.adapters import Adapter as BaseAdapter
from nonebot.compat import model_dump, type_validate_python
from nonebot.drivers import (
    URL,
    ASGIMixin,
    Driver,
    HTTPServerSetup,
    Request,
    Response,
    WebSocketClientMixin,
)
from typing_extensions import override

from adapters.mp.api import install_log_redaction
from bot.context import ChatContext
from bot.delivery import deliver_stream
from bot.dispatch import dispatch as handle_event
from bot.platform import Platform, register_platform
from bot.runtime import get_runtime, has_runtime
from bot.send import register_sender
from bot.state import StateStore

from . import delivery
from .api import WeComClient
from .bot import Bot
from .callback import Callback
from .config import Config, WeComApp, WeComBot
from .event import Event, MessageEvent, NoticeEvent, bot_event
from .exception import CallbackRejected, WeComApiError
from .longconn import Lease, LongConnection, new_req_id
from .send import limits, sender

log = logging.getLogger("freechat.adapters.wecom")


class Adapter(BaseAdapter):
    @override
    def __init__(
        self, driver: Driver, *, state: StateStore | None = None, **kwargs: Any
    ):
        """``state`` overrides the runtime's shared state (for embedding)."""
        super().__init__(driver, **kwargs)
        self.wecom_config = type_validate_python(Config, model_dump(driver.config))
        self._state = state
        install_log_redaction()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.callbacks: dict[str, Callback] = {}
        self.connections: dict[str, LongConnection] = {}
        self.clients: dict[str, WeComClient] = {}
        self._http: httpx.AsyncClient | None = None
        self._dispose = register_platform(
            Platform(
                adapter=self.get_name(),
                context_factory=delivery.context_factory,
                deliver=delivery.deliver,
                style="stream",
            )
        )
        self._dispose_sender = register_sender("wecom", sender(self), limits)
        self._setup()

    @classmethod
    @override
    def get_name(cls) -> str:
        return "wecom"

    @property
    def state(self) -> StateStore:
        return self._state if self._state is not None else get_runtime().state

    # -- lifecycle ---------------------------------------------------------------------
    def _setup(self) -> None:
        cfg = self.wecom_config
        names = [b.name for b in cfg.wecom_bots] + [a.name for a in cfg.wecom_apps]
        if len(names) != len(set(names)):
            raise ValueError("wecom: bot and app names must be unique")
        targets: list[WeComBot | WeComApp] = [
            *(b for b in cfg.wecom_bots if b.mode == "webhook"),
            *cfg.wecom_apps,
        ]
        if targets and not isinstance(self.driver, ASGIMixin):
            log.warning("wecom: driver cannot serve HTTP; callbacks disabled")
            targets = []
        for target in targets:
            callback = Callback(
                target, cfg, lambda: self.state, self._dispatcher(target.name)
            )
            self.callbacks[target.name] = callback

            async def route(
                request: Request, callback: Callback = callback
            ) -> Response:
                return await self._handle(request, callback)

            for method in ("GET", "POST"):
                self.setup_http_server(
                    HTTPServerSetup(
                        URL(f"/wecom/{target.name}"),
                        method,
                        f"wecom {target.name} {method}",
                        route,
                    )
                )
        self.driver.on_startup(self._startup)
        self.driver.on_shutdown(self._shutdown)

    async def _startup(self) -> None:
        cfg = self.wecom_config
        self._http = httpx.AsyncClient(timeout=cfg.wecom_api_timeout)
        for app in cfg.wecom_apps:
            self.clients[app.name] = WeComClient(
                app, self._http, self.state, cfg.wecom_api_base
            )
            self.bot_connect(Bot(self, app.name, app))
        for bot_cfg in cfg.wecom_bots:
            if bot_cfg.mode == "webhook":
                self.bot_connect(Bot(self, bot_cfg.name, bot_cfg))
                continue
            if not isinstance(self.driver, WebSocketClientMixin):
                log.error("wecom %s: driver has no WebSocket client", bot_cfg.name)
                continue
            lease = Lease(
                lambda: self.state,
                f"wecom:lease:{bot_cfg.bot_id}",
                cfg.wecom_lease_ttl,
                get_runtime().instance_id if has_runtime() else "",
            )
            conn = LongConnection(
                bot_cfg, cfg, self.websocket, self._on_frame, self._on_status, lease
            )
            self.connections[bot_cfg.name] = conn
            self._spawn(conn.run())

    async def _shutdown(self) -> None:
        for conn in self.connections.values():
            await conn.stop()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5)
        for name in list(self.bots):
            self.bot_disconnect(self.bots[name])
        if self._http is not None:
            await self._http.aclose()
        self._dispose()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def connection_info(self) -> dict[str, dict[str, Any]]:
        """Per long-connection bot, for the console: its status and who holds its
        lease (this or another instance sharing the state)."""
        out: dict[str, dict[str, Any]] = {}
        for name, conn in self.connections.items():
            holder = await conn.lease.holder() if conn.lease is not None else None
            out[name] = {
                "status": conn.status,
                "lease_holder": holder,
                "lease_here": conn.lease is not None and holder == conn.lease.owner,
            }
        return out

    def _on_status(self, conn: LongConnection, status: str) -> None:
        name = conn.bot.name
        log.info("wecom %s: long connection %s", name, status)
        if status == "connected" and name not in self.bots:
            self.bot_connect(Bot(self, name, conn.bot))
        elif status != "connected" and name in self.bots:
            self.bot_disconnect(self.bots[name])

    # -- inbound ---------------------------------------------------------------------
    @staticmethod
    async def _handle(request: Request, callback: Callback) -> Response:
        body = request.content or b""
        if isinstance(body, str):
            body = body.encode()
        reply = await callback.handle(
            request.method, dict(request.url.query.items()), body
        )
        return Response(
            reply.status,
            headers={"Content-Type": reply.content_type},
            content=reply.body,
        )

    def _dispatcher(self, name: str) -> Any:
        def dispatch(event: Event) -> None:
            bot = self.bots.get(name)
            if bot is None:
                log.warning("wecom %s: event before start-up dropped", name)
                return
            self._spawn(handle_event(bot, event))

        return dispatch

    async def _on_frame(self, conn: LongConnection, frame: dict[str, Any]) -> None:
        cmd = frame.get("cmd")
        if cmd not in ("aibot_msg_callback", "aibot_event_callback"):
            code = frame.get("errcode")
            if code not in (None, 0):
                log.warning(
                    "wecom %s: frame refused: errcode %s (%s)",
                    conn.bot.name,
                    code,
                    frame.get("errmsg"),
                )
            return
        headers = frame.get("headers")
        body = frame.get("body")
        req_id = headers.get("req_id") if isinstance(headers, dict) else None
        if not isinstance(req_id, str) or not req_id or not isinstance(body, dict):
            log.warning(
                "wecom %s: callback without req_id or body ignored", conn.bot.name
            )
            return
        try:
            event = bot_event(conn.bot.name, "long", body, req_id)
        except CallbackRejected as exc:
            log.warning("wecom %s: callback ignored: %s", conn.bot.name, exc.reason)
            return
        if isinstance(event, NoticeEvent):
            if event.event_type == "enter_chat" and conn.bot.welcome:
                await conn.send(
                    {
                        "cmd": "aibot_respond_welcome_msg",
                        "headers": {"req_id": req_id},
                        "body": {
                            "msgtype": "text",
                            "text": {"content": conn.bot.welcome},
                        },
                    }
                )
        elif not await self.state.claim(
            f"wecom:{conn.bot.name}:msg:{event.msg_id}",
            self.wecom_config.wecom_dedup_ttl,
        ):
            return
        else:
            event._stream_id = uuid.uuid4().hex
        self._dispatcher(conn.bot.name)(event)

    # -- outbound ----------------------------------------------------------------------
    async def deliver(self, bot: Bot, event: Event, ctx: ChatContext) -> None:
        """The platform's delivery of ``ctx.reply`` to ``event``."""
        cfg = self.wecom_config
        if not isinstance(event, MessageEvent):
            return
        if event.source == "long":
            conn = self.connections[event.bot]
            sink: Any = delivery.FrameSink(
                conn,
                event.req_id,
                event._stream_id or uuid.uuid4().hex,
                max_bytes=cfg.wecom_stream_max_bytes,
                empty_answer=cfg.wecom_empty_answer,
            )
            await deliver_stream(
                ctx.reply, sink, min_interval=cfg.wecom_stream_interval
            )
        elif event.source == "webhook":
            sink = delivery.StateSink(
                self.state,
                event._stream_id,
                max_bytes=cfg.wecom_stream_max_bytes,
                ttl=cfg.wecom_stream_ttl,
                empty_answer=cfg.wecom_empty_answer,
            )
            await deliver_stream(
                ctx.reply, sink, min_interval=cfg.wecom_stream_interval
            )
        else:
            client = self.clients[event.bot]

            async def send(text: str) -> None:
                await client.send_text(event.user_id, text)

            await delivery.deliver_app(
                ctx,
                send,
                interval=cfg.wecom_segment_interval,
                max_chars=cfg.wecom_max_chars,
            )

    async def send_text(self, bot: Bot, event: Event, text: str) -> None:
        """One finished message in answer to ``event`` (matchers' ``bot.send``)."""
        cfg = self.wecom_config
        if event.source == "long":
            req_id = getattr(event, "req_id", "") or new_req_id()
            content = delivery.truncate_utf8(text, cfg.wecom_stream_max_bytes)
            frame = delivery.stream_frame(req_id, uuid.uuid4().hex, content, True)
            await self.connections[event.bot].send(frame)
        elif event.source == "webhook":
            stream_id = getattr(event, "_stream_id", "")
            if stream_id:
                await delivery.StateSink(
                    self.state,
                    stream_id,
                    max_bytes=cfg.wecom_stream_max_bytes,
                    ttl=cfg.wecom_stream_ttl,
                    empty_answer=cfg.wecom_empty_answer,
                ).finish(text)
        else:
            try:
                await self.clients[event.bot].send_text(event.user_id, text)
            except (WeComApiError, httpx.HTTPError) as exc:
                log.error("wecom %s: message/send failed: %s", event.bot, exc)

    @override
    async def _call_api(self, bot: Bot, api: str, **data: Any) -> Any:  # type: ignore[override]
        """Apps: any ``/cgi-bin/`` POST API with the app's token. AI bots on the long
        connection: a frame ``{"cmd": api, "body": data}``."""
        if bot.self_id in self.clients:
            return await self.clients[bot.self_id].call(api, data)
        conn = self.connections.get(bot.self_id)
        if conn is None:
            raise WeComApiError(api, -1, "no API for this bot")
        return await conn.send(
            {"cmd": api, "headers": {"req_id": new_req_id()}, "body": data}
        )
