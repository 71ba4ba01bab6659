"""The sensitive-word middleware: checks the user's message, filters the answer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from bot.chain import Middleware, NextFn
from bot.context import ChatContext, ReplyChunk

from .config import Config
from .core import Action, Matcher, StreamFilter, check, mask
from .service import WordService

log = logging.getLogger(__name__)


async def close_stream(stream: AsyncIterator[ReplyChunk]) -> None:
    """Close an async generator (and so the model call behind it)."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


async def filter_reply(
    stream: AsyncIterator[ReplyChunk],
    matcher: Matcher,
    *,
    max_hold: int = 1024,
    trace_id: str = "",
) -> AsyncIterator[ReplyChunk]:
    """``stream`` with every listed word masked in its text and its reasoning."""
    text = StreamFilter(matcher, max_hold=max_hold)
    reasoning = StreamFilter(matcher, max_hold=max_hold)
    try:
        try:
            async for chunk in stream:
                out = ReplyChunk(text.feed(chunk.text), reasoning.feed(chunk.reasoning))
                if out.text or out.reasoning:
                    yield out
        except Exception:
            # the answer broke off: what was held back is still shown, filtered
            tail = ReplyChunk(text.flush(), reasoning.flush())
            if tail.text or tail.reasoning:
                yield tail
            raise
        tail = ReplyChunk(text.flush(), reasoning.flush())
        if tail.text or tail.reasoning:
            yield tail
    finally:
        await close_stream(stream)
        hits = text.hits + reasoning.hits
        if hits:
            log.info(
                "sensitive words in answer %s: %s",
                trace_id,
                sorted({f"{h.category}:{h.action.name.lower()}" for h in hits}),
            )


def make_middleware(service: WordService, config: Config) -> Middleware:
    """The middleware bound to ``service`` (one per process, tests make their own)."""

    async def sensitive_words(ctx: ChatContext, call_next: NextFn) -> None:
        matcher = await service.get()
        if config.sensitive_words_input and len(matcher):
            verdict = check(matcher, ctx.text)
            if verdict.action is not None:
                cats = sorted({h.category for h in verdict.hits})
                ctx.extra["sensitive_words"] = cats
                log.info(
                    "sensitive words in message %s from %s: %s -> %s",
                    ctx.trace_id,
                    ctx.user_key,
                    cats,
                    verdict.action.name.lower(),
                )
            if verdict.action is Action.BLOCK:
                ctx.respond(config.sensitive_words_notice, reason="blocked")
                return
            if verdict.action is Action.MASK:
                ctx.text = verdict.text
        await call_next()
        if config.sensitive_words_output and len(matcher):
            ctx.reply = filter_reply(
                ctx.reply,
                matcher,
                max_hold=config.sensitive_words_max_hold,
                trace_id=ctx.trace_id,
            )

    return sensitive_words


def make_outbound_filter(service: WordService) -> Callable[[str], Awaitable[str]]:
    """The filter for what plugins send (``bot.outbound``): listed words masked,
    as in the chat's answers."""

    async def outbound(text: str) -> str:
        matcher = await service.get()
        if not len(matcher) or not text:
            return text
        hits = [h for h in matcher.find(text) if h.action >= Action.MASK]
        if hits:
            log.info("sensitive words masked in a plugin's message")
        return mask(text, hits) if hits else text

    return outbound
