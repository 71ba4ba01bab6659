"""Conversations and messages in the database (Tortoise models of ``bot.store``)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from bot.store.models import (
    Conversation,
    Message,
    SessionConversation,
    SessionSetting,
)

from .core import storable, title_from


class ForbiddenConversation(Exception):
    """A conversation id that belongs to another owner."""


async def conversation_by_id(
    conversation_id: str, *, owner: str, session_key: str, platform: str, text: str
) -> Conversation:
    """The web conversation ``conversation_id``, created on its first message."""
    conv = await Conversation.get_or_none(id=conversation_id)
    if conv is None:
        conv, _ = await Conversation.get_or_create(
            id=conversation_id,
            defaults={
                "owner": owner,
                "session_key": session_key,
                "platform": platform,
                "title": title_from(text),
            },
        )
    if conv.owner != owner:
        raise ForbiddenConversation(conversation_id)
    return conv


async def conversation_for_session(
    session_key: str, *, owner: str, platform: str, text: str
) -> Conversation:
    """The session's current (not archived) conversation, created when missing.

    One per session key, and the database holds it to that: the session's
    ``session_conversations`` row is its primary key, so of concurrent first
    messages (two events at once, or two instances) one creates the link and the
    others use the winner's conversation.
    """
    link = await SessionConversation.get_or_none(
        session_key=session_key
    ).select_related("conversation")
    if link is not None and not link.conversation.archived:
        return link.conversation
    if link is not None:  # archived behind our back: start afresh
        await SessionConversation.filter(
            session_key=session_key, conversation_id=link.conversation_id
        ).delete()
    # a database from before the link table may hold the current one unlinked
    conv = (
        await Conversation.filter(session_key=session_key, archived=False)
        .order_by("-updated_at")
        .first()
    )
    created = conv is None
    if conv is None:
        conv = await Conversation.create(
            id=str(uuid.uuid4()),
            owner=owner,
            session_key=session_key,
            platform=platform,
            title=title_from(text),
        )
    try:
        await SessionConversation.create(session_key=session_key, conversation=conv)
    except IntegrityError:
        # another message won the race: its conversation is the session's (it may
        # be the one made here, found unlinked and linked by a third message)
        won = await SessionConversation.get(session_key=session_key).select_related(
            "conversation"
        )
        if created and won.conversation_id != conv.id:
            await Conversation.filter(id=conv.id).delete()
        return won.conversation
    return conv


async def recent_rows(conversation_id: str, limit: int) -> list[tuple[str, str]]:
    """The last ``limit`` messages, oldest first."""
    if limit <= 0:
        return []
    rows = (
        await Message.filter(conversation_id=conversation_id)
        .order_by("-id")
        .limit(limit)
        .values_list("role", "content")
    )
    return [(str(r), str(c)) for r, c in reversed(rows)]


async def session_setting(session_key: str) -> SessionSetting | None:
    return await SessionSetting.get_or_none(session_key=session_key)


#: seconds between two bumps of one conversation's ``updated_at``
BUMP_EVERY = 5.0


class Bumps:
    """Which conversations' ``updated_at`` is due for a bump. It orders the
    conversation lists; once per ``BUMP_EVERY`` seconds per conversation is precise
    enough and saves a write per message."""

    def __init__(self, max_size: int = 100_000) -> None:
        self.max_size = max_size
        self._at: dict[str, float] = {}

    def due(self, conversation_ids: set[str] | list[str], tick: float) -> list[str]:
        return [
            cid
            for cid in conversation_ids
            if cid not in self._at or tick - self._at[cid] >= BUMP_EVERY
        ]

    def done(self, conversation_ids: list[str], tick: float) -> None:
        if len(self._at) > self.max_size:
            self._at.clear()
        for cid in conversation_ids:
            self._at[cid] = tick


_bumps = Bumps()


#: ends an answer the model broke off (its next prompts show it was cut short)
PARTIAL_MARK = " [… interrupted 回答中断]"


def exchange_rows(
    conversation_id: str,
    *,
    user_text: str,
    platform_msg_id: str | None,
    answer: str | None,
    reasoning: str = "",
    tokens: int = 0,
    demo: bool = False,
) -> list[Message]:
    """The user's message and the answer (None: the model failed), unsaved."""
    now = datetime.now(UTC)
    rows = [
        Message(
            conversation_id=conversation_id,
            role="user",
            content=user_text,
            platform_msg_id=platform_msg_id or None,
            created_at=now,
        )
    ]
    if answer is not None:
        rows.append(
            Message(
                conversation_id=conversation_id,
                role="assistant",
                content=answer,
                reasoning=reasoning or None,
                tokens=tokens,
                demo=demo,
                created_at=now,
            )
        )
    return rows


def repair_row(row: Message) -> bool:
    """Replace what no database stores in ``row``'s texts; True if any was."""
    changed = False
    for name in ("content", "reasoning", "platform_msg_id"):
        value = getattr(row, name)
        if isinstance(value, str) and storable(value) != value:
            setattr(row, name, storable(value))
            changed = True
    return changed


async def save_rows(rows: list[Message]) -> None:
    """Write one conversation's ``rows`` now, and bump its ``updated_at``."""
    if not rows:
        return
    await Message.bulk_create(rows)
    tick = time.monotonic()
    bump = _bumps.due([str(rows[0].conversation_id)], tick)
    if bump:
        await Conversation.filter(id=bump[0]).update(updated_at=rows[-1].created_at)
        _bumps.done(bump, tick)


async def archive_session(session_key: str) -> int:
    """Archive the session's conversations (``/reset``); returns how many."""
    count = await Conversation.filter(session_key=session_key, archived=False).update(
        archived=True
    )
    await SessionConversation.filter(session_key=session_key).delete()
    return count
