"""The NoneBot adapter of the web chat: authenticates the socket with the session
cookie (and checks ``Origin``), then hands frames to a :class:`Connection`."""

from __future__ import annotations

import contextlib
import logging
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from nonebot.adapters import Adapter as BaseAdapter
from nonebot.drivers import URL, ASGIMixin, Driver, WebSocket, WebSocketServerSetup
from nonebot.exception import WebSocketClosed
from typing_extensions import override

from bot import auth
from bot.auth import AuthError
from bot.context import ChatContext
from bot.platform import Platform, register_platform
from bot.runtime import get_runtime
from bot.send import register_sender
from bot.state.feed import FeedWatcher

from .bot import Bot
from .connection import Connection
from .event import WebMessageEvent
from .send import sender

log = logging.getLogger(__name__)

WS_PATH = "/api/chat/ws"
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
SELF_ID = "web"


class Adapter(BaseAdapter):
    @override
    def __init__(self, driver: Driver, **kwargs: Any) -> None:
        super().__init__(driver, **kwargs)
        if not isinstance(driver, ASGIMixin):
            raise RuntimeError("the web adapter needs an ASGI driver (FastAPI)")
        self.setup_websocket_server(
            WebSocketServerSetup(URL(WS_PATH), "web_chat", self._handle_ws)
        )
        self.bot = Bot(self, SELF_ID)
        self.connections: set[Connection] = set()
        register_platform(
            Platform(
                adapter=self.get_name(),
                context_factory=self._context,
                deliver=self._deliver,
                style="stream",
            )
        )
        register_sender("web", sender(self))
        self._ended = FeedWatcher(auth.SESSIONS_CHANNEL, self._session_ended)
        driver.on_startup(self._on_startup)
        driver.on_shutdown(self._ended.stop)

    async def _on_startup(self) -> None:
        self.bot_connect(self.bot)
        await self._ended.start(get_runtime().state)

    async def _session_ended(self, message: dict[str, Any]) -> None:
        """A sign-out on any instance closes that session's sockets here."""
        ended = message.get("ended")
        for conn in [c for c in self.connections if c.session_id == ended]:
            await conn.close()
            with contextlib.suppress(WebSocketClosed, RuntimeError, OSError):
                await conn.ws.close(CLOSE_UNAUTHORIZED, "signed out")

    @classmethod
    @override
    def get_name(cls) -> str:
        return "Web"

    @override
    async def _call_api(self, bot: Any, api: str, **data: Any) -> Any:
        raise NotImplementedError("the web chat has no API")

    async def _handle_ws(self, ws: WebSocket) -> None:
        headers = ws.request.headers
        origin = headers.get("origin")
        if origin and urlsplit(origin).netloc != headers.get("host", ""):
            await ws.close(CLOSE_FORBIDDEN, "cross-origin socket refused")  # HTTP 403
            return
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except CookieError:
            cookie = SimpleCookie()
        morsel = cookie.get(auth.SESSION_COOKIE)
        token = morsel.value if morsel else None
        try:
            session = await auth.verify_session(get_runtime().settings, token)
        except AuthError:
            # accepted, then closed with a code the page understands ("sign in")
            await ws.accept()
            await ws.close(CLOSE_UNAUTHORIZED, "sign in first")
            return
        await ws.accept()
        conn = Connection(ws, session.user.name, self.bot)
        conn.session_id = session.jti
        self.connections.add(conn)
        try:
            while True:
                raw = await ws.receive()
                # a session ended since (sign-out on any instance, a disabled
                # user, expiry) ends the socket too
                try:
                    await auth.verify_session(get_runtime().settings, token)
                except AuthError:
                    await conn.close()
                    await ws.close(CLOSE_UNAUTHORIZED, "signed out")
                    return
                await conn.on_frame(raw)
        except WebSocketClosed:
            pass
        finally:
            self.connections.discard(conn)
            await conn.close()

    async def _context(self, bot: Any, event: Any) -> ChatContext | None:
        if not isinstance(event, WebMessageEvent):
            return None
        return ChatContext(
            platform="web",
            user_id=event.user,
            text=event.text,
            session_id=f"web:conv:{event.conversation_id}",
            message_id=event.client_id,
            bot_id=SELF_ID,
            extra={
                "conversation_id": event.conversation_id,
                "owner": f"web:{event.user}",
            },
        )

    async def _deliver(self, bot: Any, event: Any, ctx: ChatContext) -> None:
        if not isinstance(event, WebMessageEvent) or event._connection is None:
            raise TypeError("the web adapter delivers web events only")
        await event._connection.deliver(event, ctx)
