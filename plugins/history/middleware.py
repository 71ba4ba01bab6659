"""The history middleware (order HISTORY): loads the context, saves the exchange.

Before the model: the session's conversation (or the web conversation named in
``ctx.extra["conversation_id"]``), its last turns into ``ctx.history`` and the
session's persona into ``ctx.system_prompt``. The user's message (already masked by
the sensitive-word filter, which runs inside) is saved concurrently with the model
call; the answer, exactly as the user saw it after the output filter, is saved when
the stream ends, is stopped, or fails: an answer the model broke off is saved as
far as it came, followed by :data:`.store.PARTIAL_MARK`. Error texts are never
saved as answers.
Requests whose client keeps the conversation (``ctx.extra["stateless"]`` or
``ctx.extra["client_history"]``, set by the OpenAI-compatible adapter) pass through.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from bot.chain import Middleware, NextFn
from bot.context import ChatContext, ReplyChunk
from bot.runtime import get_runtime
from bot.store.errors import DB_ERRORS
from bot.store.models import SessionSetting
from bot.throttle import ThrottledLog

from . import store
from .cache import SessionCache
from .config import Config
from .core import effective_session, to_history
from .writer import HistoryWriter

log = logging.getLogger(__name__)

#: seconds a message waits for queued rows of its conversation to be written
FLUSH_WAIT = 2.0


async def _conversation_id(ctx: ChatContext, cache: SessionCache) -> str:
    cid = ctx.extra.get("conversation_id")
    owner = str(ctx.extra.get("owner") or ctx.user_key)
    if cid:
        conv = await store.conversation_by_id(
            str(cid),
            owner=owner,
            session_key=ctx.session_id,
            platform=ctx.platform,
            text=ctx.text,
        )
        return str(conv.id)
    cached = cache.get("conversation", ctx.session_id)
    if cached is not cache.MISSING:
        return str(cached)
    conv = await store.conversation_for_session(
        ctx.session_id, owner=owner, platform=ctx.platform, text=ctx.text
    )
    cache.put("conversation", ctx.session_id, conv.id)
    return str(conv.id)


async def _setting(session_key: str, cache: SessionCache) -> SessionSetting | None:
    cached = cache.get("setting", session_key)
    if cached is not cache.MISSING:
        return cached  # type: ignore[no-any-return]
    setting = await store.session_setting(session_key)
    cache.put("setting", session_key, setting)
    return setting


async def _recent_rows(
    conversation_id: str,
    limit: int,
    cache: SessionCache,
    writer: HistoryWriter | None,
) -> list[tuple[str, str]]:
    rows = cache.recent(conversation_id, limit)
    if rows is not None:
        return rows
    if writer is not None and writer.pending(conversation_id):
        # the database must hold what is queued for it; while it is down this
        # raises TimeoutError and the message is answered without context
        async with asyncio.timeout(FLUSH_WAIT):
            await writer.flush()
    mark = cache.save_mark(conversation_id)
    rows = await store.recent_rows(conversation_id, limit)
    # an exchange saved during the load may be missing from it: cache only if none
    if cache.save_mark(conversation_id) == mark:
        cache.put_recent(conversation_id, rows, limit)
    return rows


class Saver:
    """Saves an exchange: queued on the writer (write-behind), or written at once
    without one; the cached rows of the conversation get it in both cases."""

    def __init__(self, cache: SessionCache, writer: HistoryWriter | None) -> None:
        self.cache = cache
        self.writer = writer

    async def save(
        self,
        ctx: ChatContext,
        conversation_id: str,
        text: str,
        reasoning: str,
        demo: bool,
    ) -> None:
        """Save the user's message and the answer; an answer the model broke off
        is saved as far as it came, marked partial; an error text never."""
        answer: str | None = text
        if ctx.extra.get("finish_reason") == "error":
            answer = partial_answer(text, str(ctx.extra.get("error_text") or ""))
        elif not (text or reasoning):
            answer = None
        rows = store.exchange_rows(
            conversation_id,
            user_text=ctx.text_with_parts(),
            platform_msg_id=ctx.message_id,
            answer=answer,
            reasoning=reasoning,
            tokens=ctx.usage.completion_tokens,
            demo=demo,
        )
        self.cache.append_recent(
            conversation_id, [(row.role, row.content) for row in rows]
        )
        if self.writer is not None:
            await self.writer.add_durable(rows)
            return
        try:
            await store.save_rows(rows)
        except DB_ERRORS as exc:
            self.cache.forget_recent([conversation_id])
            log.error("saving the exchange in %s failed: %s", conversation_id, exc)


def partial_answer(text: str, error_text: str) -> str | None:
    """What the model said before it failed, marked partial; None if nothing
    (or the error text was changed on its way, so the two cannot be told apart)."""
    if not error_text or not text.endswith(error_text):
        return None
    said = text[: len(text) - len(error_text)]
    return said + store.PARTIAL_MARK if said.strip() else None


async def record_reply(
    stream: AsyncIterator[ReplyChunk],
    ctx: ChatContext,
    conversation_id: str,
    demo: bool,
    saver: Saver,
) -> AsyncIterator[ReplyChunk]:
    """Pass ``stream`` through unchanged and save the exchange when it ends."""
    text: list[str] = []
    reasoning: list[str] = []
    try:
        async for chunk in stream:
            text.append(chunk.text)
            reasoning.append(chunk.reasoning)
            yield chunk
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
        # shielded: a cancelled delivery still records what the user saw
        await asyncio.shield(
            saver.save(ctx, conversation_id, "".join(text), "".join(reasoning), demo)
        )


def make_middleware(
    config: Config,
    cache: SessionCache | None = None,
    writer: HistoryWriter | None = None,
) -> Middleware:
    """The middleware; without ``cache`` nothing is cached, without ``writer``
    every exchange is written before the reply stream ends."""
    cache = cache or SessionCache(ttl=0)  # ttl 0: no caching
    saver = Saver(cache, writer)
    limit = 2 * config.history_max_turns
    db_down = ThrottledLog(log)  # one line per 30 s, not one per message

    async def history(ctx: ChatContext, call_next: NextFn) -> None:
        if ctx.extra.get("stateless") or ctx.extra.get("client_history"):
            # the client keeps the conversation (OpenAI-style API): nothing to add
            await call_next()
            return
        rt = get_runtime()
        if cache.ttl > 0:
            await cache.start(rt.state, origin=rt.instance_id)  # once; then a no-op
        ctx.session_id = effective_session(
            ctx.platform,
            ctx.group_id,
            ctx.user_id,
            ctx.session_id,
            config.history_group_mode,
        )
        try:
            conv_id = await _conversation_id(ctx, cache)
            rows = await _recent_rows(conv_id, limit, cache, writer)
            setting = await _setting(ctx.session_id, cache)
        except store.ForbiddenConversation:
            ctx.respond(config.history_forbidden_message, reason="forbidden")
            return
        except DB_ERRORS as exc:
            # no database: answer without context rather than not at all
            db_down.log(
                logging.ERROR,
                "history unavailable, answering without context (%s: %s)",
                type(exc).__name__,
                exc,
            )
            await call_next()
            return
        ctx.extra["conversation_id"] = conv_id
        ctx.history = to_history(rows, config.history_max_turns)
        if setting is not None and setting.persona:
            ctx.system_prompt = setting.persona
        elif not ctx.system_prompt:
            ctx.system_prompt = rt.settings.llm.system_prompt
        if setting is not None and setting.model and not ctx.model:
            ctx.model = setting.model

        await call_next()

        if ctx.stopped_by is not None and ctx.stopped_by not in (
            config.history_save_reasons
        ):
            return
        ctx.reply = record_reply(ctx.reply, ctx, conv_id, bool(rt.demo_model), saver)

    return history
