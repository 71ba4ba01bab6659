"""Getting a message's images ready for the model, and telling the user what failed.

Before the model is called, :func:`prepare` fetches each image of ``ctx.parts``
through ``bot.media`` under the platform's policy (``media:`` settings) when the model
can see (``llm.vision``); otherwise the image stays a reference and the prompt says
"[image]". Every image that was not shown gets a short notice for the user (bilingual),
never a silent drop; the "this model cannot see images" notice is given once per chat.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator

from bot.content import ImagePart, images
from bot.context import ChatContext, ReplyChunk, closing
from bot.exceptions import FreeChatError
from bot.llm import LLMClient
from bot.media import MediaError, MediaPolicy, fetch_image, policy_for
from bot.settings import Settings

log = logging.getLogger(__name__)

NOTICES = {
    "refused": "I could not open your image: its address is not allowed. "
    "图片地址不在允许范围内，无法查看。",
    "too_large": "Your image is too large for me to look at. 图片太大，无法查看。",
    "failed": "I could not load your image. 图片加载失败。",
    "blind": "This model cannot see images; I only read your text. "
    "当前模型无法识别图片，只收到了文字。",
}
#: chats already told that the model is blind (bounded, oldest forgotten)
_told: OrderedDict[str, None] = OrderedDict()
_TOLD_MAX = 10_000


async def sees(settings: Settings, llm: LLMClient, model: str | None) -> bool:
    """Whether the model answering takes images (``llm.vision``; for ``auto`` its
    name, or the first model the endpoint lists, against ``llm.vision_models``)."""
    mode = settings.llm.vision
    if mode != "auto":
        return mode == "on"
    name = model or settings.llm.model
    if not name:
        try:
            name = await llm.default_model()
        except FreeChatError:
            return False
    name = name.lower()
    return any(fnmatch.fnmatch(name, p.lower()) for p in settings.llm.vision_models)


def policy(settings: Settings, platform: str) -> MediaPolicy:
    media = settings.media
    return policy_for(
        media.allowed_hosts,
        platform,
        max_bytes=media.max_bytes,
        timeout=media.timeout,
        max_side=media.max_side,
    )


async def prepare(ctx: ChatContext, settings: Settings, llm: LLMClient) -> list[str]:
    """Fetch ``ctx``'s images for a model that sees; the notices for the user."""
    wanted = images(ctx.parts)
    if not wanted:
        return []
    if not await sees(settings, llm, ctx.model):
        return [NOTICES["blind"]] if _first_time(ctx.session_id) else []
    rules = policy(settings, ctx.platform)
    limit = settings.media.max_images
    results = await asyncio.gather(
        *(_fetch(part, rules) for part in wanted[:limit]), return_exceptions=False
    )
    reasons = sorted({r for r in results if r is not None})
    return [NOTICES.get(r, NOTICES["failed"]) for r in reasons]


async def _fetch(part: ImagePart, rules: MediaPolicy) -> str | None:
    if not part.url:
        part.error = "failed"
        return part.error
    try:
        part.data_uri = (await fetch_image(part.url, rules)).data_uri()
    except MediaError as exc:
        log.info("image not shown to the model (%s): %s", exc.reason, exc)
        part.error = exc.reason
        return part.error
    return None


def _first_time(session_id: str) -> bool:
    if session_id in _told:
        return False
    _told[session_id] = None
    if len(_told) > _TOLD_MAX:
        _told.popitem(last=False)
    return True


def only_images(ctx: ChatContext) -> bool:
    """Nothing for the model but images that could not be shown."""
    return not ctx.text and all(
        isinstance(p, ImagePart) and p.data_uri is None for p in ctx.parts
    )


async def with_notices(
    notices: list[str], reply: AsyncIterator[ReplyChunk]
) -> AsyncIterator[ReplyChunk]:
    """``reply`` after the notices, each a paragraph of its own."""
    yield ReplyChunk(text="\n\n".join(notices) + "\n\n")
    async with closing(reply) as chunks:
        async for chunk in chunks:
            yield chunk
