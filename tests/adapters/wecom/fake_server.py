"""Loopback fakes of WeCom.

- :class:`FakeLongConnServer`: the AI bot long-connection WebSocket server
  (``openws.work.weixin.qq.com``). Checks ``aibot_subscribe`` (bot id + secret),
  pushes ``aibot_msg_callback``/``aibot_event_callback`` frames, answers ``ping``,
  kicks the older connection with a ``disconnected_event`` when the same bot
  subscribes again, and checks every ``aibot_respond_msg``: the ``req_id`` is one it
  issued, one ``stream.id`` per ``req_id``, content at most 20,480 UTF-8 bytes,
  nothing after ``finish: true``. Violations are collected in ``violations``.
- :class:`FakeWeComAPI`: ``qyapi.weixin.qq.com``: ``gettoken``, ``message/send``
  (40014 invalid / 42001 expired tokens), ``webhook/send`` (group robot).
- :class:`WeComPoster`: posts encrypted callbacks like WeCom: JSON for AI bots in
  webhook mode (receive id ""), XML for self-built apps (receive id = corp id).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import xmltodict
from aiohttp import web
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from wechatpy.crypto import PrpCrypto, _get_signature

MAX_BYTES = 20480


@dataclass
class StreamLog:
    """Everything the server saw for one callback ``req_id``."""

    req_id: str
    frames: list[dict[str, Any]] = field(default_factory=list)

    @property
    def contents(self) -> list[str]:
        return [f["stream"]["content"] for f in self.frames]

    @property
    def finished(self) -> bool:
        return any(f["stream"].get("finish") for f in self.frames)


class FakeLongConnServer:
    def __init__(self, bots: dict[str, str]) -> None:
        self.bots = bots  # bot_id -> secret
        self.active: dict[str, ServerConnection] = {}
        self.subscribes: list[str] = []
        self.pings = 0
        self.streams: dict[str, StreamLog] = {}
        self.welcomes: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.other_frames: list[dict[str, Any]] = []
        self._issued: set[str] = set()
        self._server: Any = None
        self.url = ""

    async def start(self) -> FakeLongConnServer:
        self._server = await serve(self._handler, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _reply(self, ws: ServerConnection, req_id: str, code: int = 0) -> None:
        await ws.send(
            json.dumps(
                {
                    "headers": {"req_id": req_id},
                    "errcode": code,
                    "errmsg": "ok" if not code else "error",
                }
            )
        )

    async def _handler(self, ws: ServerConnection) -> None:
        bot_id = ""
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            req_id = first.get("headers", {}).get("req_id", "")
            body = first.get("body", {})
            if first.get("cmd") != "aibot_subscribe" or not req_id:
                self.violations.append(f"first frame is not a subscribe: {first}")
                await ws.close(1008)
                return
            bot_id = body.get("bot_id", "")
            if self.bots.get(bot_id) != body.get("secret"):
                await self._reply(ws, req_id, 40058)
                await ws.close()
                return
            self.subscribes.append(bot_id)
            old = self.active.get(bot_id)
            self.active[bot_id] = ws
            await self._reply(ws, req_id)
            if old is not None:
                await self._kick(old)
            async for raw in ws:
                await self._frame(ws, json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            if bot_id and self.active.get(bot_id) is ws:
                del self.active[bot_id]

    async def _kick(self, ws: ServerConnection) -> None:
        frame = {
            "cmd": "aibot_event_callback",
            "headers": {"req_id": uuid.uuid4().hex},
            "body": {
                "msgid": uuid.uuid4().hex,
                "create_time": int(time.time()),
                "aibotid": "",
                "from": {"userid": ""},
                "msgtype": "event",
                "event": {"eventtype": "disconnected_event"},
            },
        }
        try:
            await ws.send(json.dumps(frame))
            await ws.close()
        except ConnectionClosed:
            pass

    async def _frame(self, ws: ServerConnection, frame: dict[str, Any]) -> None:
        cmd = frame.get("cmd")
        req_id = frame.get("headers", {}).get("req_id", "")
        if cmd == "ping":
            self.pings += 1
            await self._reply(ws, req_id)
        elif cmd == "aibot_respond_msg":
            self._check_stream(req_id, frame.get("body", {}))
            await self._reply(ws, req_id)
        elif cmd == "aibot_respond_welcome_msg":
            if req_id not in self._issued:
                self.violations.append(f"welcome with unknown req_id {req_id}")
            self.welcomes.append(frame)
            await self._reply(ws, req_id)
        else:
            self.other_frames.append(frame)
            await self._reply(ws, req_id)

    def _check_stream(self, req_id: str, body: dict[str, Any]) -> None:
        if req_id not in self._issued:
            self.violations.append(f"respond_msg with unknown req_id {req_id}")
            return
        if body.get("msgtype") != "stream":
            self.violations.append(f"respond_msg of type {body.get('msgtype')}")
            return
        stream = body["stream"]
        log = self.streams.setdefault(req_id, StreamLog(req_id))
        if log.finished:
            self.violations.append(f"{req_id}: frame after finish")
        if log.frames and log.frames[0]["stream"]["id"] != stream.get("id"):
            self.violations.append(f"{req_id}: stream.id changed")
        if not stream.get("id"):
            self.violations.append(f"{req_id}: no stream.id")
        if len(stream.get("content", "").encode("utf-8")) > MAX_BYTES:
            self.violations.append(f"{req_id}: content over {MAX_BYTES} bytes")
        log.frames.append({"stream": stream, "at": time.monotonic()})

    async def push(
        self,
        bot_id: str,
        body: dict[str, Any],
        cmd: str = "aibot_msg_callback",
        req_id: str | None = None,
    ) -> str:
        """Push a callback to the bot's active connection; return its req_id."""
        req_id = req_id or uuid.uuid4().hex
        self._issued.add(req_id)
        await self.active[bot_id].send(
            json.dumps({"cmd": cmd, "headers": {"req_id": req_id}, "body": body})
        )
        return req_id

    async def push_raw(self, bot_id: str, raw: str) -> None:
        await self.active[bot_id].send(raw)

    async def drop(self, bot_id: str) -> None:
        """Close the bot's connection from the server side (a network cut)."""
        await self.active[bot_id].close()

    async def wait_finished(self, req_id: str, limit: float = 10.0) -> StreamLog:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            log = self.streams.get(req_id)
            if log is not None and log.finished:
                return log
            await asyncio.sleep(0.02)
        raise AssertionError(
            f"stream {req_id} did not finish: {self.streams.get(req_id)}"
        )


def text_callback(
    content: str,
    *,
    user: str = "zhangsan",
    chat: str = "",
    msgid: str | None = None,
    bot_id: str = "aib-1",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "msgid": msgid or uuid.uuid4().hex,
        "aibotid": bot_id,
        "chattype": "group" if chat else "single",
        "from": {"userid": user},
        "msgtype": "text",
        "text": {"content": content},
    }
    if chat:
        body["chatid"] = chat
    return body


def event_callback(eventtype: str, *, user: str = "zhangsan") -> dict[str, Any]:
    return {
        "msgid": uuid.uuid4().hex,
        "create_time": int(time.time()),
        "aibotid": "aib-1",
        "from": {"userid": user},
        "msgtype": "event",
        "event": {"eventtype": eventtype},
    }


class FakeWeComAPI:
    def __init__(self, apps: dict[str, str]) -> None:
        self.apps = apps  # corp_id -> secret
        self.tokens: dict[str, str] = {}
        self.token_calls = 0
        self.sent: list[dict[str, Any]] = []
        self.send_calls = 0
        self.robot: list[tuple[str, dict[str, Any]]] = []
        self.errors: list[int] = []
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    def expire(self, corp_id: str) -> None:
        self.tokens.pop(corp_id, None)

    async def _gettoken(self, request: web.Request) -> web.Response:
        self.token_calls += 1
        corp, secret = (
            request.query.get("corpid", ""),
            request.query.get("corpsecret", ""),
        )
        if self.apps.get(corp) != secret:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        self.tokens[corp] = f"wtok-{secrets.token_hex(4)}"
        return web.json_response(
            {
                "errcode": 0,
                "errmsg": "ok",
                "access_token": self.tokens[corp],
                "expires_in": 7200,
            }
        )

    async def _send(self, request: web.Request) -> web.Response:
        self.send_calls += 1
        token = request.query.get("access_token", "")
        if token not in self.tokens.values():
            return web.json_response(
                {"errcode": 42001, "errmsg": "access_token expired"}
            )
        if self.errors:
            code = self.errors.pop(0)
            return web.json_response({"errcode": code, "errmsg": f"error {code}"})
        body = await request.json()
        assert body["msgtype"] in ("text", "markdown"), body
        assert isinstance(body["agentid"], int), body
        assert len(body[body["msgtype"]]["content"].encode()) <= 2048, body
        self.sent.append(body)
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "msgid": uuid.uuid4().hex}
        )

    async def _robot(self, request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        if key != "robot-key":
            return web.json_response(
                {"errcode": 93000, "errmsg": "invalid webhook url"}
            )
        body = await request.json()
        self.robot.append((key, body))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def start(self) -> FakeWeComAPI:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        app.router.add_post("/cgi-bin/message/send", self._send)
        app.router.add_post("/cgi-bin/webhook/send", self._robot)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@dataclass
class WeComPoster:
    """Posts encrypted callbacks to ``{base_url}/wecom/<name>``."""

    base_url: str
    name: str
    token: str
    encoding_aes_key: str
    receive_id: str  # corp id (app) or "" (AI bot webhook)

    @property
    def url(self) -> str:
        return f"{self.base_url}/wecom/{self.name}"

    @property
    def key(self) -> bytes:
        import base64

        return base64.b64decode(self.encoding_aes_key + "=")

    def encrypt(self, plain: str) -> str:
        return PrpCrypto(self.key).encrypt(plain, self.receive_id).decode()

    def signed(
        self, encrypted: str, *, timestamp: str | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or secrets.token_hex(5)
        return {
            "msg_signature": _get_signature(self.token, timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }

    def json_body(self, payload: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        enc = self.encrypt(json.dumps(payload, ensure_ascii=False))
        return self.signed(enc), json.dumps({"encrypt": enc}).encode()

    def xml_body(
        self, fields: dict[str, Any], agent_id: int = 1000002
    ) -> tuple[dict[str, str], bytes]:
        inner = xmltodict.unparse({"xml": fields}, full_document=False)
        enc = self.encrypt(inner)
        envelope = f"<xml><ToUserName><![CDATA[{self.receive_id}]]></ToUserName><AgentID><![CDATA[{agent_id}]]></AgentID><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
        return self.signed(enc), envelope.encode()

    async def post(
        self, params: dict[str, str], body: bytes
    ) -> tuple[float, httpx.Response]:
        async with httpx.AsyncClient(timeout=10) as client:
            start = time.monotonic()
            resp = await client.post(self.url, params=params, content=body)
            return time.monotonic() - start, resp

    def open(self, resp: httpx.Response) -> dict[str, Any]:
        """Check and decrypt an encrypted JSON reply."""
        data = resp.json()
        sig = _get_signature(
            self.token, str(data["timestamp"]), data["nonce"], data["encrypt"]
        )
        assert sig == data["msgsignature"]
        plain = PrpCrypto(self.key).decrypt(data["encrypt"], self.receive_id)
        result: dict[str, Any] = json.loads(plain)
        return result
