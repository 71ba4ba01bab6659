"""History under faults, against real PostgreSQL.

D8: concurrent first messages of new groups create exactly one conversation per
session key, held by the database (not by luck of timing)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from .llm_helpers import load_plugins

pytestmark = pytest.mark.usefixtures("nonebug_init")


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[str]:
    from bot.store import close_store, init_store

    await init_store(pg_url)
    try:
        yield pg_url
    finally:
        await close_store()


async def test_concurrent_first_messages_make_one_conversation(store: str) -> None:
    load_plugins("history")
    from bot.store.models import Conversation
    from plugins.history.store import archive_session, conversation_for_session

    groups = [f"qq:group:d8-{i}" for i in range(20)]

    async def first_message(key: str, n: int) -> str:
        conv = await conversation_for_session(
            key, owner=f"qq:{n}", platform="qq", text=f"hello {n}"
        )
        return str(conv.id)

    ids = await asyncio.gather(
        *(first_message(key, n) for key in groups for n in range(8))
    )
    by_group = [set(ids[i * 8 : (i + 1) * 8]) for i in range(len(groups))]
    assert all(len(found) == 1 for found in by_group), by_group
    for key, found in zip(groups, by_group, strict=True):
        rows = await Conversation.filter(session_key=key).values_list("id", flat=True)
        assert set(rows) == found  # the losers left nothing behind

    # /reset, then a burst again: one new conversation, the old one archived
    await archive_session(groups[0])
    again = set(await asyncio.gather(*(first_message(groups[0], n) for n in range(8))))
    assert len(again) == 1
    assert again != by_group[0]
    assert await Conversation.filter(session_key=groups[0], archived=False).count() == 1
