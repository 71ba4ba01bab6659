"""History logic without NoneBot or the database: session keys, titles, and turning
stored messages into the prompt's history."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from bot.context import PromptMessage

GroupMode = Literal["shared", "per_user"]

TITLE_CHARS = 40


def session_key(
    platform: str, group_id: str | None, user_id: str, mode: GroupMode = "shared"
) -> str:
    """The key a conversation's context is stored under.

    Private chats: ``platform:user:<id>``. Groups: ``platform:<group>`` shared by
    everyone, or ``platform:<group>:user:<id>`` with ``per_user``. The shared and
    private forms equal :class:`~bot.context.ChatContext`'s default ``session_id``.
    """
    if not group_id:
        return f"{platform}:user:{user_id}"
    if mode == "per_user":
        return f"{platform}:{group_id}:user:{user_id}"
    return f"{platform}:{group_id}"


def effective_session(
    platform: str, group_id: str | None, user_id: str, session_id: str, mode: GroupMode
) -> str:
    """The session key history uses: the adapter's ``session_id``, except that in
    ``per_user`` mode a group's shared default key becomes the member's own key
    (so the setting works with adapters that build the default key)."""
    if mode == "per_user" and group_id and session_id == f"{platform}:{group_id}":
        return session_key(platform, group_id, user_id, "per_user")
    return session_id


#: what no database stores as text: lone surrogates (SQLite and asyncpg cannot
#: encode them) and NUL (PostgreSQL refuses it)
_INVALID = re.compile(r"[\ud800-\udfff\x00]")


def storable(text: str) -> str:
    """``text`` with what no database stores replaced by U+FFFD."""
    return _INVALID.sub("\ufffd", text) if _INVALID.search(text) else text


def title_from(text: str) -> str:
    """A conversation title: the first line of the first message, 40 characters
    (storable: a title the database refuses would refuse the conversation)."""
    first = " ".join(text.split())
    return storable(first[:TITLE_CHARS])


def to_history(rows: Iterable[tuple[str, str]], max_turns: int) -> list[PromptMessage]:
    """The last ``max_turns`` turns of ``rows`` (oldest first) as prompt messages.

    Keeps at most ``2 * max_turns`` messages, starts on a user message so the model
    never sees an answer without its question, and skips empty or unknown roles.
    """
    if max_turns <= 0:
        return []
    msgs = [
        PromptMessage(role, content)  # type: ignore[arg-type]
        for role, content in rows
        if role in ("user", "assistant") and content
    ]
    msgs = msgs[-2 * max_turns :]
    while msgs and msgs[0].role != "user":
        msgs.pop(0)
    return msgs
