"""The same storage suite on SQLite and on real PostgreSQL, and migrations that
upgrade an existing database without losing rows."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tortoise import Tortoise

from bot import store
from bot.store.models import Conversation, KeyValue, Message, User


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path: Path, pg_url: str) -> str:
    return f"sqlite://{tmp_path}/t.db" if request.param == "sqlite" else pg_url


@pytest.fixture
async def db(db_url: str):
    await store.init_store(db_url)
    yield db_url
    await store.close_store()


async def test_round_trip(db: str) -> None:
    user = await User.create(name="alice", password_hash="x")
    conv = await Conversation.create(
        id=str(uuid.uuid4()), owner="web:alice", session_key="web:conv:1", title="t"
    )
    await Message.create(conversation=conv, role="user", content="你好")
    await Message.create(conversation=conv, role="assistant", content="hi", demo=True)
    msgs = await conv.messages.all().order_by("id")
    assert [m.content for m in msgs] == ["你好", "hi"]
    assert msgs[1].demo is True
    assert await store.ping()
    await conv.delete()
    assert await Message.all().count() == 0
    assert (await User.get(name="alice")).id == user.id


async def test_unique_constraints(db: str) -> None:
    from tortoise.exceptions import IntegrityError

    await User.create(name="bob", password_hash="x")
    with pytest.raises(IntegrityError):
        await User.create(name="bob", password_hash="y")


async def test_migrations_are_idempotent_and_keep_rows(db_url: str) -> None:
    await store.init_store(db_url)
    await KeyValue.create(key="cursor", value="42")
    await store.close_store()
    # a restart runs the migrations again: nothing is lost, nothing fails
    await store.init_store(db_url)
    assert (await KeyValue.get(key="cursor")).value == "42"
    conn = Tortoise.get_connection("default")
    _, rows = await conn.execute_query("SELECT name FROM tortoise_migrations")
    assert {r["name"] for r in rows} >= {"0001_initial"}
    await store.close_store()


async def test_ping_false_without_connection(tmp_path: Path) -> None:
    assert not await store.ping()


async def test_upgrade_from_the_first_schema_keeps_rows(db_url: str) -> None:
    from tortoise.migrations.api import migrate as run_migrations

    from bot.store import _forget, tortoise_config

    store._ensure_sqlite_dir(db_url)
    await run_migrations(config=tortoise_config(db_url), target="models.0001_initial")
    await _forget()
    await store.init_store(db_url, apply_migrations=False)
    conv = await Conversation.create(
        id=str(uuid.uuid4()), owner="qq:1", session_key="qq:g1", title="old"
    )
    await Message.create(conversation=conv, role="user", content="kept")
    await store.close_store()
    await store.init_store(db_url)  # start-up applies 0002 and later
    assert [m.content for m in await Message.all()] == ["kept"]
    conn = Tortoise.get_connection("default")
    if db_url.startswith("sqlite"):
        _, rows = await conn.execute_query("PRAGMA index_list('messages')")
        names = [r["name"] for r in rows]
    else:
        _, rows = await conn.execute_query(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'messages'"
        )
        names = [r["indexname"] for r in rows]
    assert any("convers" in n for n in names), names
    await store.close_store()
