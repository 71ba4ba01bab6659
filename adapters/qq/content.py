"""QQ message segments as FreeChat's typed parts (``bot.content``).

NapCat sends ``image`` segments with a download ``url``, ``face`` for stickers,
``record``/``file``/``video`` for media, ``forward`` with an id to look up with
``get_forward_msg``. A quoted message (``reply``) was already looked up by the
adapter (``event.reply``, see ``adapters.qq.bot``). Nothing is dropped silently:
what cannot be shown becomes a placeholder the model reads.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from nonebot.adapters.onebot.v11 import Message, MessageEvent

from bot.content import (
    FilePart,
    ImagePart,
    MentionPart,
    Part,
    QuotePart,
    VoicePart,
    placeholder,
)

log = logging.getLogger(__name__)

#: a forwarded bundle is cut after this many messages / characters
FORWARD_MESSAGES = 30
FORWARD_CHARS = 2000
QUOTE_CHARS = 2000
#: a forwarded bundle not (yet) looked up
FORWARDED = "[forwarded messages]"


def _text(message: Message | list[Any], self_id: str = "") -> tuple[str, list[Part]]:
    """The text of ``message`` (segment texts joined, faces leaving no double
    spaces, others' mentions as ``@name``) and its other parts, in order."""
    texts: list[str] = []
    parts: list[Part] = []
    for seg in message:
        # stock segments, or the raw dicts of a forwarded bundle (NapCat's JSON:
        # anything may be missing or of the wrong type)
        if isinstance(seg, dict):
            kind, data = seg.get("type"), seg.get("data")
        else:
            kind, data = getattr(seg, "type", None), getattr(seg, "data", None)
        if not isinstance(data, dict):
            data = {}
        if kind == "text":
            piece = str(data.get("text", "")).strip()
            if piece:
                texts.append(piece)
        elif kind == "image":
            url = str(data.get("url") or data.get("file") or "")
            if url.startswith(("http://", "https://")):
                parts.append(ImagePart(url))
            else:
                parts.append(ImagePart(""))
        elif kind == "record":
            parts.append(VoicePart(str(data.get("text") or "")))
        elif kind in ("file", "video"):
            name = str(data.get("name") or data.get("file") or "")
            parts.append(FilePart(name if kind == "file" else f"video {name}".strip()))
        elif kind == "at" and str(data.get("qq", "")) != self_id:
            # the bot's own @ is how it was addressed, not content
            mention = MentionPart(str(data.get("qq", "")), str(data.get("name") or ""))
            texts.append(placeholder(mention))
            parts.append(mention)
        elif kind == "forward":
            parts.append(QuotePart(FORWARDED))
    return " ".join(texts), parts


def message_parts(bot: Any, event: MessageEvent) -> tuple[str, list[Part]]:
    """``event``'s own text and parts (no lookups yet: see :func:`looked_up`)."""
    return _text(event.message, str(bot.self_id))


async def looked_up(bot: Any, event: MessageEvent, parts: list[Part]) -> list[Part]:
    """``parts`` with forwarded bundles fetched and the quoted message in front.
    Only for messages the bot answers: each lookup is an API call."""
    wait = bot.adapter.qq_config.qq_reply_lookup_timeout
    ids = [str(s.data.get("id", "")) for s in event.message if s.type == "forward"]
    slots = [i for i, p in enumerate(parts) if isinstance(p, QuotePart)]
    parts = list(parts)
    for i, forward_id in zip(slots, ids, strict=False):
        parts[i] = await _forward(bot, forward_id, wait)
    reply = getattr(event, "reply", None)
    if reply is not None:
        parts.insert(0, _quote(reply))
    return parts


def _quote(reply: Any) -> QuotePart:
    text, inner = _text(reply.message)
    shown = " ".join(
        s
        for s in (
            text,
            *(placeholder(p) for p in inner if not isinstance(p, MentionPart)),
        )
        if s
    )
    sender = (
        reply.sender.card or reply.sender.nickname or str(reply.sender.user_id or "")
    )
    return QuotePart(shown[:QUOTE_CHARS], sender=sender)


async def _forward(bot: Any, forward_id: str, wait: float) -> QuotePart:
    """A forwarded bundle as lines ``name: text``; a failed lookup says so."""
    try:
        data = await asyncio.wait_for(bot.get_forward_msg(id=forward_id), wait)
    except Exception as exc:  # the bundle is optional context, the message is not
        log.warning("get_forward_msg %s failed: %r", forward_id, exc)
        return QuotePart(FORWARDED)
    nodes = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(nodes, list):
        nodes = []
    lines: list[str] = []
    size = 0
    for node in nodes[:FORWARD_MESSAGES]:
        if not isinstance(node, dict):
            continue
        sender = node.get("sender")
        if not isinstance(sender, dict):
            sender = {}
        name = str(
            sender.get("card") or sender.get("nickname") or node.get("user_id", "")
        )
        raw = node.get("message") or node.get("content") or []
        if isinstance(raw, str):
            raw = [{"type": "text", "data": {"text": raw}}]
        text, inner = _text(raw if isinstance(raw, list) else [])
        shown = " ".join(s for s in (text, *(placeholder(p) for p in inner)) if s)
        line = f"{name}: {shown}"
        if size + len(line) > FORWARD_CHARS:
            lines.append(line[: FORWARD_CHARS - size] + "...")
            break
        size += len(line)
        lines.append(line)
    return QuotePart("\n".join(lines) or FORWARDED, sender="forwarded messages")
