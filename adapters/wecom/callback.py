"""HTTP callbacks at ``/wecom/<name>``: AI bots in webhook mode (encrypted JSON,
empty receive id) and self-built apps (encrypted XML, receive id = corp id).

Checks, nothing parsed before the signature: size cap (413); ``msg_signature``,
``timestamp``, ``nonce`` present (400); timestamp within the window (403); the
``Encrypt`` value taken from the raw body (a JSON field, or a base64-only regex
over the XML envelope, whose DTDs are refused) and
``msg_signature = sha1(sort(token, timestamp, nonce, encrypt))`` checked in constant
time (403); the nonce bound to the body (a reuse with another body is a replay,
403); decryption (400) and the receive id (403); then the inner payload is parsed
(JSON, or XML with entities disabled) and mapped (400 on missing fields).

GET is URL verification: the same signature over ``echostr``, which is decrypted
and answered as plain text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.mp.exception import CallbackRejected as MPCallbackRejected
from adapters.mp.handler import parse_body
from bot.state import StateStore

from .config import Config, WeComApp, WeComBot
from .crypto import CryptoError, MsgCrypto, ReceiveIdError, check_sign
from .event import MessageEvent, NoticeEvent, app_event, bot_event
from .exception import CallbackRejected

log = logging.getLogger("freechat.adapters.wecom")

_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ENCRYPT_XML = re.compile(
    rb"<Encrypt>\s*(?:<!\[CDATA\[)?([A-Za-z0-9+/=]{1,200000})(?:\]\]>)?\s*</Encrypt>"
)

Dispatch = Callable[[MessageEvent | NoticeEvent], None]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


def stream_key(stream_id: str) -> str:
    return f"wecom:stream:{stream_id}"


class Callback:
    """One ``/wecom/<name>`` endpoint (an AI bot in webhook mode or an app)."""

    def __init__(
        self,
        target: WeComBot | WeComApp,
        config: Config,
        state: Callable[[], StateStore],
        dispatch: Dispatch,
    ) -> None:
        self.target = target
        self.config = config
        self.state = state
        self.dispatch = dispatch
        self.is_app = isinstance(target, WeComApp)
        receive_id = target.corp_id if isinstance(target, WeComApp) else ""
        self.crypto = MsgCrypto(target.token, target.encoding_aes_key, receive_id)

    @property
    def name(self) -> str:
        return self.target.name

    async def handle(self, method: str, query: Mapping[str, str], body: bytes) -> Reply:
        try:
            if method == "GET":
                return self._verify(query)
            return await self._post(query, body)
        except (CallbackRejected, MPCallbackRejected) as exc:
            log.info(
                "wecom %s: callback refused (%d): %s", self.name, exc.status, exc.reason
            )
            return Reply(exc.status, exc.reason.encode())

    # -- checks ----------------------------------------------------------------------
    def _params(self, query: Mapping[str, str]) -> tuple[str, str, str]:
        signature = query.get("msg_signature", "")
        timestamp = query.get("timestamp", "")
        nonce = query.get("nonce", "")
        if not (signature and timestamp and nonce):
            raise CallbackRejected(400, "missing signature parameters")
        try:
            ts = int(timestamp)
        except ValueError as exc:
            raise CallbackRejected(400, "timestamp is not an integer") from exc
        if abs(time.time() - ts) > self.config.wecom_timestamp_window:
            raise CallbackRejected(403, "timestamp outside the accepted window")
        return signature, timestamp, nonce

    def _open(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> str:
        if not check_sign(signature, self.target.token, timestamp, nonce, encrypted):
            raise CallbackRejected(403, "bad msg_signature")
        try:
            return self.crypto.decrypt(encrypted)
        except ReceiveIdError as exc:
            raise CallbackRejected(403, "payload for another receiver") from exc
        except CryptoError as exc:
            raise CallbackRejected(400, f"cannot decrypt: {exc}") from exc

    def _verify(self, query: Mapping[str, str]) -> Reply:
        signature, timestamp, nonce = self._params(query)
        echostr = query.get("echostr", "")
        if not echostr:
            raise CallbackRejected(400, "missing echostr")
        return Reply(200, self._open(signature, timestamp, nonce, echostr).encode())

    def _encrypted_field(self, body: bytes) -> str:
        if self.is_app:
            if _DTD.search(body):
                raise CallbackRejected(400, "DTD not allowed")
            match = _ENCRYPT_XML.search(body)
            if match is None:
                raise CallbackRejected(400, "missing Encrypt")
            return match.group(1).decode()
        try:
            envelope = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise CallbackRejected(400, "malformed JSON") from exc
        encrypted = envelope.get("encrypt") if isinstance(envelope, dict) else None
        if not isinstance(encrypted, str) or not encrypted:
            raise CallbackRejected(400, "missing encrypt")
        return encrypted

    async def _check_nonce(self, nonce: str, body: bytes) -> None:
        state = self.state()
        key = f"wecom:{self.name}:nonce:{nonce[:64]}"
        digest = hashlib.sha256(body).hexdigest()
        ttl = self.config.wecom_timestamp_window * 2 + 60
        if await state.claim(key, ttl):
            await state.set(f"{key}:body", digest, ttl=ttl)
            return
        seen = await state.get(f"{key}:body")
        if seen is None or not hmac.compare_digest(seen, digest):
            raise CallbackRejected(403, "nonce reused with another body")

    async def _post(self, query: Mapping[str, str], body: bytes) -> Reply:
        if len(body) > self.config.wecom_max_body:
            raise CallbackRejected(413, "body too large")
        signature, timestamp, nonce = self._params(query)
        encrypted = self._encrypted_field(body)
        plain = self._open(signature, timestamp, nonce, encrypted)
        await self._check_nonce(nonce, body)
        if self.is_app:
            fields, _ = parse_body(plain.encode())
            return await self._app(app_event(self.name, fields), fields)
        try:
            payload = json.loads(plain)
        except (ValueError, RecursionError) as exc:
            raise CallbackRejected(400, "malformed inner JSON") from exc
        if not isinstance(payload, dict):
            raise CallbackRejected(400, "inner payload is not an object")
        return await self._bot(payload)

    # -- self-built app -----------------------------------------------------------------
    async def _app(
        self, event: MessageEvent | NoticeEvent, fields: dict[str, Any]
    ) -> Reply:
        key = event.msg_id if isinstance(event, MessageEvent) else event.req_id
        if await self.state().claim(
            f"wecom:{self.name}:msg:{key}", self.config.wecom_dedup_ttl
        ):
            self.dispatch(event)
        return Reply(200)  # the answer goes through message/send

    # -- AI bot, webhook mode -------------------------------------------------------------
    async def _bot(self, payload: dict[str, Any]) -> Reply:
        if payload.get("msgtype") == "stream":
            stream = payload.get("stream")
            stream_id = stream.get("id") if isinstance(stream, dict) else None
            if not isinstance(stream_id, str) or not stream_id:
                raise CallbackRejected(400, "missing stream.id")
            return await self._refresh(stream_id)
        event = bot_event(self.name, "webhook", payload)
        state = self.state()
        if isinstance(event, NoticeEvent):
            assert isinstance(self.target, WeComBot)
            if event.event_type == "enter_chat" and self.target.welcome:
                return self._seal(
                    {"msgtype": "text", "text": {"content": self.target.welcome}}
                )
            return Reply(200)
        key = f"wecom:{self.name}:msg:{event.msg_id}"
        ttl = self.config.wecom_stream_ttl
        if await state.claim(key, self.config.wecom_dedup_ttl):
            stream_id = uuid.uuid4().hex
            await state.set(f"{key}:stream", stream_id, ttl=ttl)
            await state.set(
                stream_key(stream_id),
                json.dumps({"content": "", "finish": False}),
                ttl=ttl,
            )
            event._stream_id = stream_id
            self.dispatch(event)
        else:  # a retry: continue the same stream
            stream_id = await state.get(f"{key}:stream") or ""
            if not stream_id:
                return Reply(200)
        return await self._refresh(stream_id)

    async def _refresh(self, stream_id: str) -> Reply:
        raw = await self.state().get(stream_key(stream_id))
        data = json.loads(raw) if raw else {"content": "", "finish": True}
        return self._seal(
            {
                "msgtype": "stream",
                "stream": {
                    "id": stream_id,
                    "finish": bool(data.get("finish")),
                    "content": str(data.get("content", "")),
                },
            }
        )

    def _seal(self, payload: dict[str, Any]) -> Reply:
        enc, signature, timestamp, nonce = self.crypto.seal(
            json.dumps(payload, ensure_ascii=False)
        )
        body = {
            "encrypt": enc,
            "msgsignature": signature,
            "timestamp": int(timestamp),
            "nonce": nonce,
        }
        return Reply(200, json.dumps(body).encode(), "application/json")
