"""The QQ adapter: the stock OneBot v11 adapter, hardened.

What changes against ``nonebot.adapters.onebot.v11.Adapter`` (the rest is kept):

- every frame is decoded and validated in its own ``try``: a bad frame is logged
  (throttled) and skipped, the socket stays open;
- a new connection with the same ``X-Self-ID`` replaces the old one at once (the old
  one is closed in the background even when it is half-open), and a send waits up to
  ``qq_reconnect_grace`` for a reconnecting peer instead of failing;
- the access token is compared in constant time, required on HTTP POST too, and
  required at start-up when the server listens on a non-loopback address;
- message events are deduplicated by (self id, message id) through the shared state;
- message events beyond ``qq_max_in_flight`` per bot are shed before a task exists;
- API replies are matched by echo of any type, per adapter instance.

The connection, admission and access parts are shared with the WeChat adapter in
:mod:`adapters.onebot.hardened`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from typing import Any, cast

from nonebot.adapters import Adapter as BaseAdapter
from nonebot.adapters.onebot.v11 import Adapter as OneBotAdapter
from nonebot.adapters.onebot.v11 import Event
from nonebot.adapters.onebot.v11.exception import ApiNotAvailable, NetworkError
from nonebot.adapters.onebot.v11.utils import handle_api_result, log
from nonebot.compat import model_dump, type_validate_python
from nonebot.drivers import URL, Driver, Request, Response, WebSocket
from nonebot.exception import WebSocketClosed
from nonebot.utils import DataclassEncoder, escape_tag
from typing_extensions import override

from adapters.onebot.guard import ThrottledLog, validate_event
from adapters.onebot.hardened import HardenedOneBot, Hardening
from bot.http_guard import before_body
from bot.platform import register_platform
from bot.send import register_sender

from .bot import Bot
from .config import Config

RECONNECT_INTERVAL = 3.0


class Adapter(HardenedOneBot, OneBotAdapter):
    """OneBot v11 for QQ (NapCat): reverse WS, forward WS, HTTP POST."""

    @override
    def __init__(self, driver: Driver, **kwargs: Any) -> None:
        BaseAdapter.__init__(self, driver, **kwargs)
        cfg = self.qq_config = type_validate_python(Config, model_dump(driver.config))
        self.onebot_config = cfg.onebot()
        self._harden(Hardening.of(cfg, "qq"))
        self.unknown_events = ThrottledLog(self.get_name(), level="DEBUG")
        self._setup()
        # HTTP POST: the token is checked before the body is read
        self._dispose_gate = before_body("/onebot/v11/", self.token_gate)
        from .platform import platform
        from .send import sender

        self._dispose_platform = register_platform(platform(self.get_name()))
        self._dispose_sender = register_sender("qq", sender(self))

    @classmethod
    @override
    def get_name(cls) -> str:
        # the protocol's name, as the stock adapter's: plugins and libraries that
        # look adapters up by name (uniseg, uninfo, saa) find their OneBot v11 code
        return "OneBot V11"

    # ------------------------------------------------------------ connections
    def _attach(self, self_id: str, websocket: WebSocket) -> Bot:
        """Make ``websocket`` the connection of ``self_id``; replace an old one."""
        self._replace(self_id, websocket)
        bot = self.bots.get(self_id)
        if bot is None:
            bot = Bot(self, self_id)
            self.bot_connect(bot)
            log("INFO", f"<y>Bot {escape_tag(self_id)}</y> connected")
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
        payload = json.dumps(
            {"action": api, "params": data, "echo": echo}, cls=DataclassEncoder
        )
        try:
            await websocket.send(payload)
        except BaseException:
            self.echoes.forget(echo)
            raise
        try:
            return handle_api_result(await self.echoes.wait(echo, future, timeout))
        except TimeoutError:
            raise NetworkError(f"WebSocket call api {api} timeout") from None

    # --------------------------------------------------------------- frames
    def handle_frame(self, bot: Bot | None, raw: str | bytes) -> Bot | None:
        """Decode one frame and hand it over; never raises. Returns the bot (the
        forward connection learns it from the lifecycle event)."""
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            self.bad_frames("skipped a frame that is not JSON", raw)
            return bot
        if not isinstance(data, dict):
            self.bad_frames("skipped a frame that is not an object", raw)
            return bot
        if "post_type" not in data:
            self.echoes.resolve(data)
            return bot
        try:
            if bot is None:
                return None
            self.dispatch(bot, data)
        except Exception as exc:  # one bad frame must never close the socket
            self.bad_frames(f"skipped a bad event ({exc!r})", data)
        return bot

    def dispatch(self, bot: Bot, data: dict[str, Any]) -> None:
        """Admit, parse and start handling one event dict."""
        gated = data.get("post_type") == "message"
        if gated:
            key = f"{bot.self_id}:{data.get('message_id')}"
            if key in self.recent:
                log("DEBUG", f"repeated message {escape_tag(key)} dropped")
                return
            if not self.gate.try_enter(bot.self_id):
                self.shed(bot, data)
                return
            self.recent.add(key)
        try:
            event = self.to_event(data)
            if event is None:
                return
            self._spawn(self._handle(bot, event, bot.self_id if gated else None))
            gated = False  # the task leaves the gate
        finally:
            if gated:
                self.gate.leave(bot.self_id)

    def to_event(self, data: dict[str, Any]) -> Event | None:
        """Validate ``data`` against the most specific event model that fits."""
        try:
            models = list(self.get_event_model(data))
        except (ValueError, TypeError) as exc:
            self.bad_frames(f"skipped an event of unknown shape ({exc})", data)
            return None
        for model in models:
            if model is Event:
                continue
            try:
                return validate_event(model, data)
            except Exception:  # pydantic errors: try the next, less specific one
                continue
        try:
            type_validate_python(Event, data)
        except Exception as exc:
            self.bad_frames(f"skipped an invalid event ({type(exc).__name__})", data)
            return None
        # a well-formed event of a kind the stock models do not know (NapCat's
        # ``message_sent``, extensions): nothing here can use it
        self.unknown_events(
            f"ignored an event of unknown kind {data.get('post_type')!r}"
        )
        return None

    def shed(self, bot: Bot, data: dict[str, Any]) -> None:
        message_type = data.get("message_type")
        target = (
            data.get("group_id") if message_type == "group" else data.get("user_id")
        )
        params = None
        if message_type in ("group", "private") and isinstance(target, int | str):
            key = "group_id" if message_type == "group" else "user_id"
            params = {"message_type": message_type, key: target}
        self._shed(bot, f"{bot.self_id}:{message_type}:{target}", "send_msg", params)

    # ------------------------------------------------------------- transports
    @override
    async def _handle_ws(self, websocket: WebSocket) -> None:
        self_id = websocket.request.headers.get("x-self-id")
        if not self_id:
            log("WARNING", "Missing X-Self-ID Header")
            await websocket.close(1008, "Missing X-Self-ID Header")
            return
        response = self._check_access_token(websocket.request)
        if response is not None:
            await websocket.close(1008, cast(str, response.content))
            return
        await websocket.accept()
        bot = self._attach(self_id, websocket)
        try:
            while True:
                self.handle_frame(bot, await websocket.receive())
                # a burst of buffered frames must not starve the tasks it starts
                await asyncio.sleep(0)
        except WebSocketClosed:
            log("WARNING", f"WebSocket for Bot {escape_tag(self_id)} closed by peer")
        except Exception as exc:
            log("ERROR", f"WebSocket for Bot {escape_tag(self_id)} failed", exc)
        finally:
            self._detach(self_id, websocket)
            await self._close_quietly(websocket, "bye")

    @override
    async def _handle_http(self, request: Request) -> Response:
        self_id = request.headers.get("x-self-id")
        if not self_id:
            return Response(400, content="Missing X-Self-ID Header")
        denied = self._check_access_token(request) or self._check_signature(request)
        if denied is not None:
            return denied
        if not request.content:
            return Response(400, content="Invalid request body")
        bot = self.bots.get(self_id)
        if bot is None:
            bot = Bot(self, self_id)
            self.bot_connect(bot)
            log("INFO", f"<y>Bot {escape_tag(self_id)}</y> connected (HTTP)")
        self.handle_frame(cast(Bot, bot), request.content)
        return Response(204)

    @override
    def _check_signature(self, request: Request) -> Response | None:
        secret = self.qq_config.qq_secret
        if not secret:
            return None
        signature = request.headers.get("x-signature")
        if not signature:
            log("WARNING", "Missing Signature Header")
            return Response(401, content="Missing Signature")
        body = request.content or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        expected = "sha1=" + hmac.new(secret.encode(), body, "sha1").hexdigest()
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            log("WARNING", "Signature Header is invalid")
            return Response(403, content="Signature is invalid")
        return None

    @override
    async def _forward_ws(self, url: URL) -> None:
        headers = {}
        if self.qq_config.qq_access_token:
            headers["Authorization"] = f"Bearer {self.qq_config.qq_access_token}"
        request = Request("GET", url, headers=headers, timeout=30.0)
        while True:
            bot: Bot | None = None
            try:
                async with self.websocket(request) as ws:
                    try:
                        while True:
                            raw = await ws.receive()
                            if bot is None:
                                bot = self._forward_hello(ws, raw)
                            else:
                                self.handle_frame(bot, raw)
                            await asyncio.sleep(0)
                    finally:
                        if bot is not None:
                            self._detach(bot.self_id, ws)
            except Exception as exc:
                log("ERROR", f"forward WebSocket {escape_tag(str(url))} failed", exc)
            await asyncio.sleep(RECONNECT_INTERVAL)

    def _forward_hello(self, ws: WebSocket, raw: str | bytes) -> Bot | None:
        """Before the lifecycle ``connect`` event, only API replies are handled."""
        with contextlib.suppress(ValueError, RecursionError, TypeError):
            data = json.loads(raw)
            if isinstance(data, dict) and data.get("meta_event_type") == "lifecycle":
                if (self_id := data.get("self_id")) is not None:
                    bot = self._attach(str(self_id), ws)
                    self.handle_frame(bot, raw)
                    return bot
        self.handle_frame(None, raw)
        return None
