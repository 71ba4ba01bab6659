"""The callback handler of one Official Account: checks, dedup and the passive window.

Order of checks (cheapest and safest first, nothing parsed before the signature):

1. size cap (413), query ``signature``/``timestamp``/``nonce`` present (400);
2. ``signature = sha1(sort(token, timestamp, nonce))``, constant-time (403);
3. timestamp within +-``mp_timestamp_window`` (403);
4. nonce: the first use claims ``mp:<name>:nonce:<nonce>`` bound to the body's
   sha256; the same nonce with the same body (a retry, should WeChat reuse it) passes
   and is then absorbed by the MsgId claim, the same nonce with another body is a
   replay (403);
5. body: DTDs refused outright, XML through xmltodict with entities disabled, or JSON;
   ``<xml></xml>``, non-scalar fields, missing fields: 400;
6. safe/compatible mode: ``msg_signature`` over the ``Encrypt`` field (403), decrypt
   (bad base64 / padding: 400), receive id = AppID (403), parse the inner body again.

Then the message key (``MsgId``, or sender + create time) is claimed in the shared
state. The claimant dispatches the event and waits at most ``mp_passive_timeout`` for
the answer; a copy that lost the claim (a retry, possibly on another instance) polls
the shared answer for the rest of its own window. Whoever holds the answer in time
claims ``...:out`` and replies passively; if no one did, the delivery claims it and
uses the customer-service API. So one LLM call and one answer, every response in time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import xmltodict
from wechatpy.replies import TextReply

from bot.delivery import split_text
from bot.metrics import MESSAGES_OUT
from bot.state import StateStore

from .config import Config, MPAccount
from .crypto import MsgCrypto, check_sign
from .event import Event, build_event
from .exception import CallbackRejected, CryptoError, ReceiveIdError

log = logging.getLogger("freechat.adapters.mp")

_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ENVELOPE = (
    "<xml><Encrypt><![CDATA[{0}]]></Encrypt><MsgSignature><![CDATA[{1}]]>"
    "</MsgSignature><TimeStamp>{2}</TimeStamp><Nonce><![CDATA[{3}]]></Nonce></xml>"
)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b"success"
    content_type: str = "text/plain; charset=utf-8"


SUCCESS = Reply(200)


@dataclass(slots=True)
class PassiveSlot:
    """Hand-over between the HTTP delivery and the answer of one event."""

    answer: asyncio.Future[str]
    #: True when the HTTP response carried the answer
    taken: asyncio.Future[bool]
    fmt: str = "xml"
    encrypted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def parse_body(body: bytes) -> tuple[dict[str, Any], str]:
    """The callback's fields and its format (``xml`` or ``json``); 400 on anything
    malformed, hostile or empty."""
    if _DTD.search(body):
        raise CallbackRejected(400, "DTD not allowed")
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise CallbackRejected(400, "body is not UTF-8") from exc
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise CallbackRejected(400, "malformed JSON") from exc
        fmt = "json"
    elif text.startswith("<"):
        try:
            parsed = xmltodict.parse(text, disable_entities=True)
        except (ValueError, xmltodict.expat.ExpatError) as exc:
            raise CallbackRejected(400, "malformed XML") from exc
        data = parsed.get("xml") if isinstance(parsed, dict) else None
        fmt = "xml"
    else:
        raise CallbackRejected(400, "body is neither XML nor JSON")
    if not isinstance(data, dict) or not data:
        raise CallbackRejected(400, "empty message")
    return data, fmt


def _cdata_safe(text: str) -> str:
    return _XML_CONTROL.sub("", text).replace("]]>", "]]]]><![CDATA[>")


class CallbackHandler:
    """Answers ``/wechat/mp/<name>`` for one account."""

    def __init__(
        self,
        account: MPAccount,
        config: Config,
        state: Callable[[], StateStore],
        dispatch: Callable[[Event], None],
        send_rest: Callable[[Event, list[str]], Coroutine[Any, Any, int]],
    ) -> None:
        self.account = account
        self.config = config
        self.state = state
        self.dispatch = dispatch
        self.send_rest = send_rest
        self.crypto = (
            MsgCrypto(account.token, account.encoding_aes_key, account.app_id)
            if account.mode != "plaintext"
            else None
        )
        self.tasks: set[asyncio.Task[Any]] = set()

    # -- entry points -------------------------------------------------------------
    async def handle(self, method: str, query: Mapping[str, str], body: bytes) -> Reply:
        try:
            if method == "GET":
                return self._verify(query)
            return await self._post(query, body)
        except CallbackRejected as exc:
            log.info(
                "mp %s: callback refused (%d): %s",
                self.account.name,
                exc.status,
                exc.reason,
            )
            return Reply(exc.status, exc.reason.encode())

    def _check_query(self, query: Mapping[str, str]) -> tuple[str, str]:
        signature = query.get("signature", "")
        timestamp = query.get("timestamp", "")
        nonce = query.get("nonce", "")
        if not (signature and timestamp and nonce):
            raise CallbackRejected(400, "missing signature parameters")
        if not check_sign(signature, self.account.token, timestamp, nonce):
            raise CallbackRejected(403, "bad signature")
        try:
            ts = int(timestamp)
        except ValueError as exc:
            raise CallbackRejected(400, "timestamp is not an integer") from exc
        if abs(time.time() - ts) > self.config.mp_timestamp_window:
            raise CallbackRejected(403, "timestamp outside the accepted window")
        return timestamp, nonce

    def _verify(self, query: Mapping[str, str]) -> Reply:
        self._check_query(query)
        echostr = query.get("echostr", "")
        if not echostr:
            raise CallbackRejected(400, "missing echostr")
        return Reply(200, echostr.encode())

    async def _check_nonce(self, nonce: str, body: bytes) -> None:
        state = self.state()
        key = f"mp:{self.account.name}:nonce:{nonce[:64]}"
        digest = hashlib.sha256(body).hexdigest()
        ttl = self.config.mp_timestamp_window * 2 + 60
        if await state.claim(key, ttl):
            await state.set(f"{key}:body", digest, ttl=ttl)
            return
        seen = None
        for _ in range(10):  # the claimant writes the digest right after its claim
            seen = await state.get(f"{key}:body")
            if seen is not None:
                break
            await asyncio.sleep(0.01)
        if seen is None or not hmac.compare_digest(seen, digest):
            raise CallbackRejected(403, "nonce reused with another body")

    async def _post(self, query: Mapping[str, str], body: bytes) -> Reply:
        start = time.monotonic()
        if len(body) > self.config.mp_max_body:
            raise CallbackRejected(413, "body too large")
        timestamp, nonce = self._check_query(query)
        await self._check_nonce(nonce, body)
        fields, fmt = parse_body(body)
        encrypted = query.get("encrypt_type", "").lower() == "aes"
        if encrypted:
            fields = self._decrypt(query, fields, timestamp, nonce)
        elif self.account.mode == "safe":
            raise CallbackRejected(403, "plaintext callback for a safe-mode account")
        event = build_event(self.account.name, fields)
        return await self._accept(event, fmt, encrypted, start)

    def _decrypt(
        self, query: Mapping[str, str], fields: dict[str, Any], ts: str, nonce: str
    ) -> dict[str, Any]:
        if self.crypto is None:
            raise CallbackRejected(400, "encrypted callback for a plaintext account")
        encrypted = fields.get("Encrypt")
        msg_signature = query.get("msg_signature", "")
        if not isinstance(encrypted, str) or not encrypted or not msg_signature:
            raise CallbackRejected(400, "missing Encrypt or msg_signature")
        if not check_sign(msg_signature, self.account.token, ts, nonce, encrypted):
            raise CallbackRejected(403, "bad msg_signature")
        try:
            plain = self.crypto.decrypt(encrypted)
        except ReceiveIdError as exc:
            raise CallbackRejected(403, "payload for another AppID") from exc
        except CryptoError as exc:
            raise CallbackRejected(400, f"cannot decrypt: {exc}") from exc
        inner, _ = parse_body(plain.encode())
        return inner

    # -- dedup and the passive window ----------------------------------------------
    def key(self, event: Event) -> str:
        return f"mp:{self.account.name}:msg:{event.msg_key}"

    async def _accept(
        self, event: Event, fmt: str, encrypted: bool, start: float
    ) -> Reply:
        state = self.state()
        key = self.key(event)
        deadline = start + self.config.mp_passive_timeout
        if not await state.claim(key, self.config.mp_dedup_ttl):
            return await self._await_other(event, key, fmt, encrypted, deadline)
        loop = asyncio.get_running_loop()
        slot = PassiveSlot(loop.create_future(), loop.create_future(), fmt, encrypted)
        event._slot = slot
        self.dispatch(event)
        text = ""
        won = False
        try:
            try:
                remaining = max(0.0, deadline - time.monotonic())
                text = await asyncio.wait_for(asyncio.shield(slot.answer), remaining)
            except TimeoutError:
                text = ""
            won = bool(text.strip()) and await state.claim(
                f"{key}:out", self.config.mp_dedup_ttl
            )
        finally:
            if not slot.taken.done():
                slot.taken.set_result(won)
        if not won:
            return SUCCESS
        return self._passive(event, text, fmt, encrypted)

    async def _await_other(
        self, event: Event, key: str, fmt: str, encrypted: bool, deadline: float
    ) -> Reply:
        state = self.state()
        text: str | None = None
        while time.monotonic() < deadline:
            text = await state.get(f"{key}:ans")
            if text is not None:
                break
            await asyncio.sleep(0.1)
        if text and await state.claim(f"{key}:out", self.config.mp_dedup_ttl):
            return self._passive(event, text, fmt, encrypted)
        return SUCCESS

    def _passive(self, event: Event, text: str, fmt: str, encrypted: bool) -> Reply:
        pieces = split_text(text, self.config.mp_max_chars)
        if len(pieces) > 1:
            task: asyncio.Task[int] = asyncio.create_task(
                self.send_rest(event, pieces[1:])
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        MESSAGES_OUT.labels("mp").inc()
        return self.render(event, pieces[0] if pieces else text, fmt, encrypted)

    def render(self, event: Event, text: str, fmt: str, encrypted: bool) -> Reply:
        """The passive text reply to ``event``, encrypted when the request was."""
        if fmt == "json":
            plain = json.dumps(
                {
                    "ToUserName": event.from_user_name,
                    "FromUserName": event.to_user_name,
                    "CreateTime": int(time.time()),
                    "MsgType": "text",
                    "Content": text,
                },
                ensure_ascii=False,
            )
        else:
            reply = TextReply(
                source=event.to_user_name,
                target=event.from_user_name,
                content=_cdata_safe(text),
            )
            plain = reply.render()
        if encrypted and self.crypto is not None:
            enc, sig, ts, nonce = self.crypto.seal(plain)
            if fmt == "json":
                sealed = {
                    "Encrypt": enc,
                    "MsgSignature": sig,
                    "TimeStamp": int(ts),
                    "Nonce": nonce,
                }
                return Reply(200, json.dumps(sealed).encode(), "application/json")
            return Reply(
                200, _ENVELOPE.format(enc, sig, ts, nonce).encode(), "application/xml"
            )
        if fmt == "json":
            return Reply(200, plain.encode(), "application/json")
        return Reply(200, plain.encode(), "application/xml")

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5)
