"""How the chat kernel talks to WeCom: the context factory and the deliveries.

- long connection: ``deliver_stream`` into :class:`FrameSink`, which sends
  ``aibot_respond_msg`` stream frames with the callback's ``req_id`` and one stream id,
  the full text so far (the platform replaces, it does not append) cut to the byte
  limit at a character boundary, and always one final ``finish: true`` frame;
- webhook: :class:`StateSink` keeps the text so far in the shared state, where
  refresh callbacks (on any instance) read it;
- self-built app: ``deliver_segments`` over ``message/send``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from bot.context import ChatContext, ReplyChunk
from bot.delivery import deliver_segments
from bot.metrics import MESSAGES_OUT
from bot.state import StateStore

from .callback import stream_key
from .event import MessageEvent

if TYPE_CHECKING:
    from .longconn import LongConnection

log = logging.getLogger("freechat.adapters.wecom")


def truncate_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes, never inside a character."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[:max_bytes].decode("utf-8", errors="ignore")


def stream_frame(
    req_id: str, stream_id: str, content: str, finish: bool
) -> dict[str, Any]:
    return {
        "cmd": "aibot_respond_msg",
        "headers": {"req_id": req_id},
        "body": {
            "msgtype": "stream",
            "stream": {"id": stream_id, "finish": finish, "content": content},
        },
    }


class FrameSink:
    """Stream frames on the long connection for one callback."""

    def __init__(
        self,
        conn: LongConnection,
        req_id: str,
        stream_id: str,
        *,
        max_bytes: int,
        empty_answer: str,
    ) -> None:
        self.conn = conn
        self.req_id = req_id
        self.stream_id = stream_id
        self.max_bytes = max_bytes
        self.empty_answer = empty_answer
        self.last: str | None = None
        self.finished = False

    async def update(self, text: str, delta: ReplyChunk) -> None:
        content = truncate_utf8(text, self.max_bytes)
        if content and content != self.last and not self.finished:
            await self._send(content, finish=False)

    async def finish(self, text: str) -> None:
        if self.finished:
            return
        self.finished = True
        content = (
            truncate_utf8(text, self.max_bytes) if text.strip() else self.empty_answer
        )
        await self._send(content, finish=True)
        MESSAGES_OUT.labels("wecom").inc()

    async def _send(self, content: str, *, finish: bool) -> None:
        frame = stream_frame(self.req_id, self.stream_id, content, finish)
        if not await self.conn.send(frame):
            log.warning(
                "wecom %s: stream frame for %s not sent (not connected)",
                self.conn.bot.name,
                self.req_id,
            )
        self.last = content


class StateSink:
    """The webhook stream's text so far, in the shared state for refresh callbacks."""

    def __init__(
        self,
        state: StateStore,
        stream_id: str,
        *,
        max_bytes: int,
        ttl: float,
        empty_answer: str,
    ) -> None:
        self.state = state
        self.key = stream_key(stream_id)
        self.max_bytes = max_bytes
        self.ttl = ttl
        self.empty_answer = empty_answer

    async def update(self, text: str, delta: ReplyChunk) -> None:
        await self._store(truncate_utf8(text, self.max_bytes), False)

    async def finish(self, text: str) -> None:
        content = (
            truncate_utf8(text, self.max_bytes) if text.strip() else self.empty_answer
        )
        await self._store(content, True)
        MESSAGES_OUT.labels("wecom").inc()

    async def _store(self, content: str, finish: bool) -> None:
        value = json.dumps({"content": content, "finish": finish}, ensure_ascii=False)
        await self.state.set(self.key, value, ttl=self.ttl)


async def context_factory(bot: Any, event: Any) -> ChatContext | None:
    if not isinstance(event, MessageEvent) or not event.content.strip():
        return None
    return ChatContext(
        platform="wecom",
        user_id=event.user_id,
        text=event.content.strip(),
        group_id=event.chat_id
        if event.chat_type == "group" and event.chat_id
        else None,
        bot_id=str(bot.self_id),
        message_id=event.msg_id,
    )


async def _close(stream: AsyncIterator[ReplyChunk]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


async def deliver(bot: Any, event: Any, ctx: ChatContext) -> None:
    try:
        await bot.adapter.deliver(bot, event, ctx)
    finally:
        await _close(ctx.reply)


async def deliver_app(
    ctx: ChatContext, send: Any, *, interval: float, max_chars: int
) -> None:
    await deliver_segments(ctx.reply, send, min_interval=interval, max_chars=max_chars)
