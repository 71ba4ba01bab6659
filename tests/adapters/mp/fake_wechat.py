"""Loopback fakes of WeChat for the Official Account adapter.

- :class:`FakeWeChatAPI`: an HTTP server answering like ``api.weixin.qq.com``:
  ``POST /cgi-bin/stable_token`` (7200 s tokens, ``force_refresh``) and
  ``POST /cgi-bin/message/custom/send`` with WeChat's error codes (40001 invalid
  token, 42001 expired, 45015 window closed, 45047 quota used up), scriptable.
- :class:`WeChatPoster`: posts callbacks the way WeChat does: query
  ``signature/timestamp/nonce`` (+ ``openid``, and ``encrypt_type=aes&msg_signature``
  in safe/compatible mode), body XML or JSON, AES envelope built with wechatpy's own
  ``WeChatCrypto`` (an independent implementation of the scheme), retries of one
  delivery at 0/5/10 s.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeWeChatAPI:
    """``api.weixin.qq.com`` on loopback."""

    def __init__(self, app_secrets: dict[str, str]) -> None:
        self.app_secrets = app_secrets
        self.tokens: dict[str, str] = {}
        self.token_calls: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.send_calls = 0
        #: errcodes answered to the next message/custom/send calls, in order
        self.errors: list[int] = []
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    def expire(self, appid: str) -> None:
        """Invalidate the current token (as a plain gettoken elsewhere would)."""
        self.tokens.pop(appid, None)

    async def _stable_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.token_calls.append(body)
        appid = body.get("appid", "")
        if body.get("grant_type") != "client_credential" or self.app_secrets.get(
            appid
        ) != body.get("secret"):
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        if body.get("force_refresh") or appid not in self.tokens:
            self.tokens[appid] = f"tok-{appid}-{secrets.token_hex(4)}"
        return web.json_response(
            {"access_token": self.tokens[appid], "expires_in": 7200}
        )

    async def _custom_send(self, request: web.Request) -> web.Response:
        self.send_calls += 1
        token = request.query.get("access_token", "")
        if token not in self.tokens.values():
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        if self.errors:
            code = self.errors.pop(0)
            return web.json_response({"errcode": code, "errmsg": f"error {code}"})
        body = await request.json()
        assert body["msgtype"] == "text", body
        assert body["touser"], body
        content = body["text"]["content"]
        assert 0 < len(content), body
        self.sent.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def start(self) -> FakeWeChatAPI:
        app = web.Application()
        app.router.add_post("/cgi-bin/stable_token", self._stable_token)
        app.router.add_post("/cgi-bin/message/custom/send", self._custom_send)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


@dataclass
class Account:
    name: str = "demo"
    app_id: str = "wx1234567890abcdef"
    app_secret: str = "s3cret-app"
    token: str = "tok3n"
    encoding_aes_key: str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    original_id: str = "gh_0123456789ab"
    mode: str = "plaintext"

    def config(self, **extra: Any) -> dict[str, Any]:
        return {
            "name": self.name,
            "app_id": self.app_id,
            "app_secret": self.app_secret,
            "token": self.token,
            "encoding_aes_key": self.encoding_aes_key,
            "mode": self.mode,
            **extra,
        }


def text_message(
    content: str, *, openid: str = "oUser1", msg_id: str | None = None
) -> dict[str, str]:
    return {
        "ToUserName": "gh_0123456789ab",
        "FromUserName": openid,
        "CreateTime": str(int(time.time())),
        "MsgType": "text",
        "Content": content,
        "MsgId": msg_id or str(secrets.randbelow(10**18)),
    }


def to_xml(fields: dict[str, str]) -> str:
    return xmltodict.unparse({"xml": fields}, full_document=False)


@dataclass
class Delivery:
    """One WeChat delivery: the query string and body it posts."""

    params: dict[str, str]
    body: bytes


@dataclass
class WeChatPoster:
    """Posts callbacks to ``{base_url}/wechat/mp/<name>`` like WeChat's servers."""

    base_url: str
    account: Account
    encrypted: bool = False
    fmt: str = "xml"
    timeout: float = 5.0
    responses: list[tuple[float, httpx.Response]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.base_url}/wechat/mp/{self.account.name}"

    def delivery(
        self,
        fields: dict[str, str],
        *,
        timestamp: str | None = None,
        nonce: str | None = None,
    ) -> Delivery:
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or str(secrets.randbelow(10**10))
        params = {
            "signature": sign(self.account.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": fields.get("FromUserName", ""),
        }
        plain = (
            json.dumps(fields, ensure_ascii=False)
            if self.fmt == "json"
            else to_xml(fields)
        )
        if not self.encrypted:
            return Delivery(params, plain.encode())
        crypto = WeChatCrypto(
            self.account.token, self.account.encoding_aes_key, self.account.app_id
        )
        envelope = xmltodict.parse(crypto.encrypt_message(plain, nonce, timestamp))[
            "xml"
        ]
        params.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
        if self.fmt == "json":
            body = json.dumps(
                {"ToUserName": fields["ToUserName"], "Encrypt": envelope["Encrypt"]}
            )
        else:
            body = to_xml(
                {"ToUserName": fields["ToUserName"], "Encrypt": envelope["Encrypt"]}
            )
        return Delivery(params, body.encode())

    async def post(self, delivery: Delivery) -> tuple[float, httpx.Response]:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            start = time.monotonic()
            resp = await client.post(
                self.url, params=delivery.params, content=delivery.body
            )
            took = time.monotonic() - start
        self.responses.append((took, resp))
        return took, resp

    async def deliver_with_retries(
        self, fields: dict[str, str], schedule: tuple[float, ...] = (0.0, 5.0, 10.0)
    ) -> list[tuple[float, httpx.Response]]:
        """One message delivered at each offset of ``schedule`` (WeChat's retries
        after a missed response), each attempt a fresh timestamp/nonce."""
        start = time.monotonic()

        async def attempt(offset: float) -> tuple[float, httpx.Response]:
            await asyncio.sleep(max(0.0, start + offset - time.monotonic()))
            return await self.post(self.delivery(fields))

        return list(await asyncio.gather(*(attempt(o) for o in schedule)))

    def open_reply(self, resp: httpx.Response) -> dict[str, Any] | None:
        """The passive reply's fields (decrypted when encrypted); None for
        ``success``/empty."""
        text = resp.text
        if text in ("", "success"):
            return None
        if self.fmt == "json":
            data: dict[str, Any] = json.loads(text)
        else:
            data = xmltodict.parse(text)["xml"]
        if "Encrypt" not in data:
            return data
        crypto = WeChatCrypto(
            self.account.token, self.account.encoding_aes_key, self.account.app_id
        )
        assert data["MsgSignature"] == sign(
            self.account.token, str(data["TimeStamp"]), data["Nonce"], data["Encrypt"]
        )
        envelope = to_xml(
            {
                "Encrypt": data["Encrypt"],
                "MsgSignature": data["MsgSignature"],
                "TimeStamp": str(data["TimeStamp"]),
                "Nonce": data["Nonce"],
            }
        )
        plain = crypto.decrypt_message(
            envelope, data["MsgSignature"], str(data["TimeStamp"]), data["Nonce"]
        )
        if self.fmt == "json":
            inner: dict[str, Any] = json.loads(plain)
            return inner
        return dict(xmltodict.parse(plain)["xml"])
