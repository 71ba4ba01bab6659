"""The WeChat groups adapter: the stock OneBot v12 adapter, hardened like QQ's.

Changes against ``nonebot.adapters.onebot.v12.Adapter`` (the rest is kept): each
frame is decoded and validated in its own ``try`` (bad frames are logged, throttled,
and skipped; frames before the ``connect`` meta event are skipped, not fatal); a bot
announced on a new connection takes over from the old one at once; the access token
is compared in constant time (header only: tokens in URLs end up in logs) and is
required off loopback; message events are deduplicated through the shared state
and shed past ``wechat_max_in_flight`` per bot; echoes of any type are matched.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import msgpack
from nonebot.adapters import Adapter as BaseAdapter
from nonebot.adapters.onebot.v12 import Adapter as OneBotAdapter
from nonebot.adapters.onebot.v12 import (
    ConnectMetaEvent,
    Event,
    MetaEvent,
    StatusUpdateMetaEvent,
)
from nonebot.adapters.onebot.v12.exception import ApiNotAvailable, NetworkError
from nonebot.adapters.onebot.v12.utils import CustomEncoder, flattened_to_nested, log
from nonebot.compat import model_dump, type_validate_python
from nonebot.drivers import Driver, Request, Response, WebSocket
from nonebot.exception import WebSocketClosed
from nonebot.utils import escape_tag
from typing_extensions import override

from adapters.onebot.guard import validate_event
from adapters.onebot.hardened import HardenedOneBot, Hardening
from bot.platform import register_platform
from bot.send import register_sender

from .bot import Bot
from .config import Config


class Adapter(HardenedOneBot, OneBotAdapter):
    """OneBot v12 for personal WeChat groups (reverse WebSocket)."""

    @override
    def __init__(self, driver: Driver, **kwargs: Any) -> None:
        BaseAdapter.__init__(self, driver, **kwargs)
        cfg = self.wechat_config = type_validate_python(
            Config, model_dump(driver.config)
        )
        self.onebot_config = cfg.onebot()
        self._harden(Hardening.of(cfg, "wechat"))
        self._setup()
        from .platform import platform
        from .send import sender

        self._dispose_platform = register_platform(platform(self.get_name()))
        self._dispose_sender = register_sender("wechat", sender(self))

    @classmethod
    @override
    def get_name(cls) -> str:
        # the protocol's name, as the stock adapter's (see adapters/qq/adapter.py)
        return "OneBot V12"

    # ------------------------------------------------------------ connections
    def _attach(
        self,
        self_id: str,
        platform: str,
        impl: str,
        websocket: WebSocket,
        bots: dict[str, Bot],
    ) -> Bot:
        self._replace(self_id, websocket)
        bot = self.bots.get(self_id)
        if bot is None:
            bot = Bot(self, self_id, impl, platform)
            self.bot_connect(bot)
            log("INFO", f"<y>Bot {escape_tag(self_id)}</y> connected")
        bots[self_id] = cast(Bot, bot)
        return cast(Bot, bot)

    # ------------------------------------------------------------------ API
    @override
    async def _call_api(self, bot: Any, api: str, **data: Any) -> Any:
        timeout: float = data.get("_timeout", self.config.api_timeout)
        websocket = await self._connection(bot.self_id)
        if websocket is None:
            if self.onebot_config.onebot_api_roots.get(bot.self_id):
                return await super()._call_api(bot, api, **data)
            raise ApiNotAvailable
        echo, future = self.echoes.register()
        frame = {
            "action": api,
            "params": data,
            "self": {"platform": bot.platform, "user_id": bot.self_id},
            "echo": echo,
        }
        try:
            await websocket.send(json.dumps(frame, cls=CustomEncoder))
        except BaseException:
            self.echoes.forget(echo)
            raise
        try:
            return self._handle_api_result(
                await self.echoes.wait(echo, future, timeout)
            )
        except TimeoutError:
            raise NetworkError(f"WebSocket call api {api} timeout") from None

    # --------------------------------------------------------------- frames
    def decode(self, raw: str | bytes) -> dict[str, Any] | None:
        try:
            data = json.loads(raw) if isinstance(raw, str) else msgpack.unpackb(raw)
            data = flattened_to_nested(data)
        except Exception as exc:  # JSON, msgpack and recursion errors alike
            self.bad_frames(f"skipped an undecodable frame ({type(exc).__name__})", raw)
            return None
        if not isinstance(data, dict):
            self.bad_frames("skipped a frame that is not an object", raw)
            return None
        return data

    def to_event(self, data: dict[str, Any], impl: str | None) -> Event | None:
        try:
            models = list(self.get_event_model(data, impl))
        except Exception as exc:
            self.bad_frames(f"skipped an event of unknown shape ({exc!r})", data)
            return None
        for model in models:
            if model is Event:
                continue
            try:
                return validate_event(model, data)
            except Exception:  # pydantic errors: try the next model
                continue
        self.bad_frames("skipped an invalid or unknown event", data)
        return None

    def handle_frame(
        self, websocket: WebSocket, bots: dict[str, Bot], impl: str, raw: str | bytes
    ) -> None:
        """Handle one frame after ``connect``; never raises."""
        data = self.decode(raw)
        if data is None:
            return
        if "type" not in data:
            self.echoes.resolve(data)
            return
        try:
            self.dispatch(websocket, bots, impl, data)
        except Exception as exc:
            self.bad_frames(f"skipped a bad event ({exc!r})", data)

    def dispatch(
        self,
        websocket: WebSocket,
        bots: dict[str, Bot],
        impl: str,
        data: dict[str, Any],
    ) -> None:
        gated: str | None = None
        if data.get("type") == "message":
            self_info = data.get("self")
            self_id = (
                str(self_info.get("user_id")) if isinstance(self_info, dict) else ""
            )
            key = f"{self_id}:{data.get('message_id')}"
            if key in self.recent:
                return
            if not self.gate.try_enter(self_id):
                self.shed(data, bots.get(self_id))
                return
            gated = self_id
            self.recent.add(key)
        try:
            event = self.to_event(data, impl)
            if event is None:
                return
            if isinstance(event, StatusUpdateMetaEvent):
                for status in event.status.bots:
                    sid = status.self.user_id
                    if status.online:
                        self._attach(sid, status.self.platform, impl, websocket, bots)
                    elif bots.pop(sid, None) is not None:
                        self._detach(sid, websocket)
            if isinstance(event, MetaEvent):
                for bot in bots.values():
                    self._spawn(self._handle(bot, event, None))
                return
            self_id = event.self.user_id  # type: ignore[attr-defined]
            bot = bots.get(self_id) or self._attach(
                self_id,
                event.self.platform,  # type: ignore[attr-defined]
                impl,
                websocket,
                bots,
            )
            self._spawn(self._handle(bot, event, gated))
            gated = None
        finally:
            if gated is not None:
                self.gate.leave(gated)

    def shed(self, data: dict[str, Any], bot: Bot | None) -> None:
        detail = data.get("detail_type")
        target = data.get("group_id") if detail == "group" else data.get("user_id")
        params = None
        if detail in ("group", "private") and isinstance(target, str):
            key = "group_id" if detail == "group" else "user_id"
            params = {"detail_type": detail, key: target}
        self._shed(bot, f"{data.get('self')}:{detail}:{target}", "send_message", params)

    # ------------------------------------------------------------- transports
    @override
    async def _handle_ws(self, websocket: WebSocket) -> None:
        denied = self._check_access_token(websocket.request)
        if denied is not None:
            await websocket.close(1008, cast(str, denied.content))
            return
        await websocket.accept()
        bots: dict[str, Bot] = {}
        impl: str | None = None
        try:
            while True:
                raw = await websocket.receive()
                if impl is None:
                    impl = self._hello(raw)
                else:
                    self.handle_frame(websocket, bots, impl, raw)
                await asyncio.sleep(0)
        except WebSocketClosed:
            log(
                "WARNING", f"WebSocket for {escape_tag(', '.join(bots))} closed by peer"
            )
        except Exception as exc:
            log("ERROR", "WebSocket failed", exc)
        finally:
            for self_id in list(bots):
                self._detach(self_id, websocket)
            await self._close_quietly(websocket)

    def _hello(self, raw: str | bytes) -> str | None:
        """The implementation name from the ``connect`` meta event, else None."""
        data = self.decode(raw)
        if data is None:
            return None
        event = self.to_event(data, None)
        if isinstance(event, ConnectMetaEvent):
            return event.version.impl
        self.bad_frames("skipped a frame before the connect meta event", data)
        return None

    @override
    async def _handle_http(self, request: Request) -> Response:
        denied = self._check_access_token(request)
        if denied is not None:
            return denied
        try:
            return await super()._handle_http(request)
        except Exception as exc:  # stock code decodes the body without a guard
            self.bad_frames(f"rejected a bad HTTP event ({type(exc).__name__})")
            return Response(400, content="Invalid request body")
