"""A fake iLink bot API server on loopback (aiohttp), speaking the wire format of
Tencent's openclaw-weixin client: JSON POSTs under ``/ilink/bot/``, long-polled
``getupdates`` with an opaque ``get_updates_buf`` cursor, ``errcode -14`` when the
session expired, and the QR login endpoints."""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
import uuid
from typing import Any

from aiohttp import web

TOKEN = "ilink-bot-token"
_ids = itertools.count(7_000_000 + int(time.time()) % 1_000_000 * 1000)


class FakeILink:
    def __init__(self, *, hold: float = 0.5) -> None:
        self.hold = hold
        self.log: list[dict[str, Any]] = []  # inbound messages, in order
        self.sent: list[dict[str, Any]] = []
        self.typing: list[dict[str, Any]] = []
        self.cursors: list[str] = []  # cursors the client sent
        self.expired = False
        self.qr_states = ["wait", "scaned", "confirmed"]
        self.bad_requests: list[str] = []
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeILink:
        app = web.Application()
        app.router.add_post("/ilink/bot/{name}", self.post)
        app.router.add_get("/ilink/bot/get_bot_qrcode", self.qrcode)
        app.router.add_get("/ilink/bot/get_qrcode_status", self.qrcode_status)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------- scripting
    def push(
        self, text: str, *, user: str = "u1@im.wechat", message_id: str = ""
    ) -> str:
        mid = message_id or str(next(_ids))
        self.log.append(
            {
                "seq": len(self.log) + 1,
                "message_id": mid,
                "from_user_id": user,
                "to_user_id": "bot@im.bot",
                "create_time_ms": int(time.time() * 1000),
                "message_type": 1,
                "message_state": 2,
                "context_token": f"ctx-{mid}",
                "item_list": [{"type": 1, "text_item": {"text": text}}],
            }
        )
        self._changed.set()
        return mid

    def texts(self) -> list[str]:
        return [
            item["text_item"]["text"]
            for m in self.sent
            for item in m["msg"]["item_list"]
        ]

    # -------------------------------------------------------------- handlers
    def _check(self, request: web.Request) -> str | None:
        if request.headers.get("AuthorizationType") != "ilink_bot_token":
            return "AuthorizationType"
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return "Authorization"
        uin = base64.b64decode(request.headers.get("X-WECHAT-UIN", "")).decode()
        if not uin.isdecimal() or int(uin) >= 2**32:
            return "X-WECHAT-UIN"
        return None

    async def post(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        bad = self._check(request)
        body = await request.json()
        if bad or "base_info" not in body:
            self.bad_requests.append(bad or "base_info")
            return web.json_response({"ret": -1, "errmsg": f"bad {bad}"}, status=401)
        if self.expired:
            return web.json_response(
                {"ret": -14, "errcode": -14, "errmsg": "session timeout"}
            )
        if name == "getupdates":
            return await self.getupdates(body)
        if name == "sendmessage":
            self.sent.append(body)
            return web.json_response({"ret": 0, "message_id": uuid.uuid4().hex})
        if name == "getconfig":
            return web.json_response({"ret": 0, "typing_ticket": "dGlja2V0"})
        if name == "sendtyping":
            self.typing.append(body)
            return web.json_response({"ret": 0})
        return web.json_response({"ret": -1, "errmsg": "unknown"}, status=404)

    async def getupdates(self, body: dict[str, Any]) -> web.Response:
        cursor = body.get("get_updates_buf", "")
        self.cursors.append(cursor)
        after = int(base64.b64decode(cursor).decode()) if cursor else 0
        if not [m for m in self.log if m["seq"] > after]:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), self.hold)
            except TimeoutError:
                pass
        msgs = [m for m in self.log if m["seq"] > after]
        last = msgs[-1]["seq"] if msgs else after
        new_cursor = base64.b64encode(str(last).encode()).decode() if last else ""
        return web.json_response(
            {
                "ret": 0,
                "msgs": msgs,
                "get_updates_buf": new_cursor,
                "longpolling_timeout_ms": 35000,
            }
        )

    async def qrcode(self, request: web.Request) -> web.Response:
        assert request.query.get("bot_type") == "3"
        return web.json_response(
            {
                "qrcode": "qr-123",
                "qrcode_img_content": "https://liteapp.weixin.qq.com/q/qr-123",
            }
        )

    async def qrcode_status(self, request: web.Request) -> web.Response:
        assert request.query.get("qrcode") == "qr-123"
        state = self.qr_states.pop(0) if len(self.qr_states) > 1 else self.qr_states[0]
        data: dict[str, Any] = {"status": state}
        if state == "confirmed":
            data.update(
                bot_token=TOKEN,
                ilink_bot_id="bot123@im.bot",
                baseurl=self.base_url,
                ilink_user_id="owner@im.wechat",
            )
        return web.json_response(data)
