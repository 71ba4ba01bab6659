"""One browser socket: parses frames, runs one answer at a time, streams it back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

from nonebot.drivers import WebSocket
from nonebot.exception import WebSocketClosed

from bot.context import ChatContext, ReplyChunk
from bot.delivery import deliver_stream
from bot.dispatch import dispatch as handle_event
from bot.metrics import MESSAGES_OUT
from bot.runtime import get_runtime
from bot.store.models import Conversation
from bot.text import clean_tree

from .event import WebMessageEvent
from .exception import FrameError

log = logging.getLogger(__name__)

MAX_ID = 64


class Connection:
    """The state of one signed-in browser socket."""

    def __init__(self, ws: WebSocket, user: str, bot: Any) -> None:
        self.ws = ws
        self.user = user
        self.bot = bot
        self.answer: asyncio.Task[None] | None = None
        self.consumer: asyncio.Task[str] | None = None
        self.finished: set[str] = set()
        #: the client id of the message being answered, until its ``done`` is sent
        self.busy_id: str | None = None
        #: the sign-in session (its JWT id) that opened the socket
        self.session_id = ""
        self._send_lock = asyncio.Lock()

    @property
    def owner(self) -> str:
        return f"web:{self.user}"

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            with contextlib.suppress(WebSocketClosed, RuntimeError, OSError):
                await self.ws.send_text(json.dumps(frame, ensure_ascii=False))

    async def error(self, code: str, message: str, frame_id: str | None = None) -> None:
        await self.send(
            {"type": "error", "id": frame_id, "code": code, "message": message}
        )

    # -- incoming frames -------------------------------------------------------------

    async def on_frame(self, raw: str | bytes) -> None:
        try:
            # lone surrogates ("\ud83d") are replaced before anything stores them
            frame = clean_tree(json.loads(raw))
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise FrameError("bad_frame", "a frame is a JSON object with a type")
            kind = frame["type"]
            if kind == "send":
                await self.on_send(frame)
            elif kind == "stop":
                self.stop()
            elif kind == "ping":
                await self.send({"type": "pong"})
            elif kind == "list":
                await self.on_list()
            elif kind == "switch":
                await self.on_switch(frame)
            else:
                raise FrameError("bad_frame", f"unknown frame type {kind[:32]!r}")
        except (ValueError, UnicodeDecodeError, RecursionError):
            await self.error("bad_frame", "not valid JSON")
        except FrameError as exc:
            frame_id = frame.get("id") if isinstance(frame, dict) else None
            await self.error(
                exc.code, exc.message, frame_id if isinstance(frame_id, str) else None
            )

    async def on_send(self, frame: dict[str, Any]) -> None:
        settings = get_runtime().settings
        frame_id, text, conv_id = (
            frame.get("id"),
            frame.get("text"),
            frame.get("conversation_id"),
        )
        if not isinstance(frame_id, str) or not 0 < len(frame_id) <= MAX_ID:
            raise FrameError("bad_frame", "id must be a string of 1-64 characters")
        if not isinstance(text, str) or not text.strip():
            raise FrameError("bad_frame", "text must be a non-empty string")
        if len(text) > settings.server.max_message_chars:
            raise FrameError(
                "too_long",
                f"messages are limited to {settings.server.max_message_chars} characters",
            )
        if conv_id is not None and not isinstance(conv_id, str):
            raise FrameError("bad_frame", "conversation_id must be a string or null")
        if self.busy_id is not None:
            raise FrameError("busy", "an answer is still being generated")
        self.busy_id = frame_id
        try:
            conv = await self._conversation(conv_id, text)
        except BaseException:
            self.busy_id = None  # no answer will run: the socket must not stay busy
            raise
        event = WebMessageEvent(
            user=self.user,
            conversation_id=conv.id,
            client_id=frame_id,
            text=text,
            title=conv.title,
        )
        event._connection = self
        self.answer = asyncio.create_task(self._answer(event))

    async def on_list(self) -> None:
        rows = (
            await Conversation.filter(owner=self.owner, archived=False)
            .order_by("-updated_at")
            .limit(200)
        )
        items = [
            {"id": c.id, "title": c.title, "updated_at": c.updated_at.isoformat()}
            for c in rows
        ]
        await self.send({"type": "conversations", "items": items})

    async def on_switch(self, frame: dict[str, Any]) -> None:
        conv_id = frame.get("conversation_id")
        if not isinstance(conv_id, str):
            raise FrameError("bad_frame", "conversation_id must be a string")
        conv = await Conversation.get_or_none(id=conv_id[:36], owner=self.owner)
        if conv is None:
            raise FrameError("not_found", "no such conversation")
        messages = await conv.messages.all().order_by("id")
        await self.send(
            {
                "type": "history",
                "conversation_id": conv.id,
                "title": conv.title,
                "messages": [
                    {
                        "role": m.role,
                        "content": m.content,
                        "reasoning": m.reasoning,
                        "created_at": m.created_at.isoformat(),
                        "demo": m.demo,
                    }
                    for m in messages
                ],
            }
        )

    async def _conversation(self, conv_id: str | None, text: str) -> Conversation:
        if conv_id is None:
            new_id = str(uuid.uuid4())
            return await Conversation.create(
                id=new_id,
                owner=self.owner,
                session_key=f"web:conv:{new_id}",
                platform="web",
                title=text.strip().splitlines()[0][:40],
            )
        conv = await Conversation.get_or_none(id=conv_id[:36], owner=self.owner)
        if conv is None:
            raise FrameError("not_found", "no such conversation")
        return conv

    async def _answer(self, event: WebMessageEvent) -> None:
        try:
            await handle_event(self.bot, event)
        finally:
            if event.client_id not in self.finished:
                # no matcher answered (chat plugin off, or an error before delivery)
                self.busy_id = None
                await self.send(
                    {
                        "type": "done",
                        "id": event.client_id,
                        "conversation_id": event.conversation_id,
                        "finish_reason": "error",
                        "usage": None,
                    }
                )
            self.finished.discard(event.client_id)

    def stop(self) -> None:
        if self.consumer is not None and not self.consumer.done():
            self.consumer.cancel()

    async def close(self) -> None:
        """The socket is gone: stop the answer and the upstream request now."""
        self.stop()
        for task in (self.consumer, self.answer):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # -- outgoing answer -------------------------------------------------------------

    async def deliver(self, event: WebMessageEvent, ctx: ChatContext) -> None:
        rt = get_runtime()
        await self.send(
            {
                "type": "start",
                "id": event.client_id,
                "conversation_id": event.conversation_id,
                "title": event.title,
                "model": rt.settings.llm.model,
                "demo": rt.demo_model,
            }
        )
        sink = _Sink(self, event.client_id)
        self.consumer = asyncio.create_task(deliver_stream(ctx.reply, sink))
        try:
            await asyncio.wait({self.consumer})
        except asyncio.CancelledError:
            self.consumer.cancel()
            raise
        cancelled = self.consumer.cancelled()
        if not cancelled and self.consumer.exception() is not None:
            log.error("web answer failed", exc_info=self.consumer.exception())
        reason = _finish_reason(ctx, cancelled, self.consumer)
        usage = ctx.usage
        self.finished.add(event.client_id)
        self.busy_id = None
        MESSAGES_OUT.labels("web").inc()
        await self.send(
            {
                "type": "done",
                "id": event.client_id,
                "conversation_id": event.conversation_id,
                "finish_reason": reason,
                "usage": (
                    {
                        "prompt_tokens": usage.prompt_tokens,
                        "completion_tokens": usage.completion_tokens,
                    }
                    if usage.total_tokens
                    else None
                ),
            }
        )

    async def send_whole(self, event: WebMessageEvent, text: str) -> None:
        """A complete answer from a plain matcher (``/reset``): start, text, done."""
        rt = get_runtime()
        base = {"id": event.client_id, "conversation_id": event.conversation_id}
        await self.send(
            base
            | {
                "type": "start",
                "title": event.title,
                "model": "",
                "demo": rt.demo_model,
            }
        )
        await self.send({"type": "delta", "id": event.client_id, "text": text})
        self.finished.add(event.client_id)
        self.busy_id = None
        await self.send(base | {"type": "done", "finish_reason": "stop", "usage": None})


def _finish_reason(ctx: ChatContext, cancelled: bool, task: asyncio.Task[str]) -> str:
    if cancelled:
        return "cancelled"
    if task.exception() is not None:
        return "error"
    if ctx.stopped_by == "blocked":
        return "blocked"
    reason = ctx.extra.get("finish_reason")
    return str(reason) if reason in ("stop", "length", "error") else "stop"


class _Sink:
    def __init__(self, conn: Connection, frame_id: str) -> None:
        self.conn = conn
        self.frame_id = frame_id

    async def update(self, text: str, delta: ReplyChunk) -> None:
        if delta.reasoning:
            await self.conn.send(
                {"type": "reasoning", "id": self.frame_id, "text": delta.reasoning}
            )
        if delta.text:
            await self.conn.send(
                {"type": "delta", "id": self.frame_id, "text": delta.text}
            )

    async def finish(self, text: str) -> None:
        return None
