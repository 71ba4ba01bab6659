"""The chat's model call for a message with media: images fetched (or not) first,
the user told what the model could not see."""

from __future__ import annotations

from bot.chain import MiddlewareChain
from bot.context import ChatContext
from bot.llm import LLMClient
from bot.settings import Settings
from bot.vision import only_images, prepare, with_notices

from .core import run_chain


async def answer_rich(
    ctx: ChatContext,
    chain: MiddlewareChain,
    llm: LLMClient,
    settings: Settings,
    *,
    error_message: str,
) -> None:
    """Run the chain for ``ctx``; its images prepared, notices before the answer."""
    notices = await prepare(ctx, settings, llm) if ctx.parts else []
    if notices and only_images(ctx):
        ctx.respond("\n\n".join(notices), reason="media")
        return
    await run_chain(ctx, chain, llm, error_message=error_message)
    if notices:
        ctx.reply = with_notices(notices, ctx.reply)
