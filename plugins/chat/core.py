"""The chat pipeline without NoneBot: admission, the model as the chain's innermost
step, and running the chain for one context."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterable

from bot.chain import MiddlewareChain
from bot.context import ChatContext, ReplyChunk, closing
from bot.exceptions import FreeChatError, LLMError
from bot.llm import LLMClient, StreamInfo
from bot.metrics import ERRORS, IN_FLIGHT, LLM_TTFT, observe_tokens

log = logging.getLogger(__name__)

#: what separates a partial answer from the error text that ends it
ERROR_SEPARATOR = "\n\n⚠ "


class Admission:
    """A non-blocking bound on work in flight: excess work is refused, not queued."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def try_enter(self) -> bool:
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        IN_FLIGHT.inc()
        return True

    def leave(self) -> None:
        self.in_flight -= 1
        IN_FLIGHT.dec()


async def model_stream(ctx: ChatContext, llm: LLMClient) -> AsyncIterator[ReplyChunk]:
    """The model's answer for ``ctx``; a failure becomes a clear text for the user."""
    info = StreamInfo()
    upstream = llm.stream(
        ctx.prompt(),
        model=ctx.model,
        max_tokens=ctx.max_tokens,
        temperature=ctx.temperature,
        user=ctx.user_key,
        info=info,
    )
    partial = False
    try:
        async with closing(upstream) as chunks:
            async for chunk in chunks:
                partial = partial or bool(chunk.text)
                yield chunk
        ctx.extra["finish_reason"] = info.finish_reason or "stop"
    except LLMError as exc:
        ERRORS.labels("llm").inc()
        log.warning("model call failed for %s: %s", ctx.trace_id, exc)
        ctx.extra["finish_reason"] = "error"
        ctx.extra["error"] = str(exc)
        # after part of an answer the error text is a paragraph of its own: the
        # segment delivery sends it as a separate message, the others show it
        # after a blank line, never glued to the last word
        notice = (ERROR_SEPARATOR if partial else "") + exc.user_message
        ctx.extra["error_text"] = notice
        yield ReplyChunk(text=notice)
    finally:
        ctx.usage.prompt_tokens = info.usage.prompt_tokens
        ctx.usage.completion_tokens = info.usage.completion_tokens
        observe_tokens(
            ctx.platform,
            ctx.group_key,
            info.usage.prompt_tokens,
            info.usage.completion_tokens,
        )
        ctx.extra["model"] = info.model
        if info.ttft is not None:
            LLM_TTFT.observe(info.ttft)


async def run_chain(
    ctx: ChatContext, chain: MiddlewareChain, llm: LLMClient, *, error_message: str
) -> None:
    """Run ``chain`` for ``ctx`` with the model innermost; errors become a reply."""

    async def terminal(c: ChatContext) -> None:
        c.reply = model_stream(c, llm)

    try:
        await chain.run(ctx, terminal)
    except FreeChatError as exc:
        ERRORS.labels(type(exc).__name__).inc()
        log.warning("chain stopped for %s: %s", ctx.trace_id, exc)
        ctx.extra["finish_reason"] = "error"
        ctx.respond(getattr(exc, "user_message", error_message), reason="error")
    except Exception:
        # a middleware failed in a way nobody foresaw (a driver's own error, a
        # bug): the user still gets an answer rather than silence
        ERRORS.labels("chain").inc()
        log.exception("the chain failed for %s", ctx.trace_id)
        ctx.extra["finish_reason"] = "error"
        ctx.respond(error_message, reason="error")


_COMMAND_WORD = re.compile(r"[^\W_][\w-]{0,31}(?:\s|$)")


def looks_like_command(text: str, starts: Iterable[str]) -> bool:
    """Whether ``text`` reads as a command (``/foo``, ``/foo bar``): a command
    start, then one word and a space or the end (``/etc/passwd`` is not one)."""
    for start in starts:
        if start and text.startswith(start):
            return _COMMAND_WORD.match(text, len(start)) is not None
    return False
