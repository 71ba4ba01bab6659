"""Migration 0003 (the console) over a database with rows: existing admins keep
their rights as the ``admin`` role, other users become ``user``, audit rows and
keyword rules get their new columns; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import store


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/fc.db"
    return request.getfixturevalue("pg_url")


async def test_existing_admins_become_the_admin_role(url: str) -> None:
    from tortoise import Tortoise
    from tortoise.migrations.api import migrate as run_migrations

    from bot.store import _forget, tortoise_config

    store._ensure_sqlite_dir(url)
    target = "models.0002_message_conversation_index"
    await run_migrations(config=tortoise_config(url), target=target)
    await _forget()
    await Tortoise.init(config=tortoise_config(url))
    conn = Tortoise.get_connection("default")
    for name, admin in (("old-admin", True), ("old-user", False)):
        await conn.execute_query(
            "INSERT INTO users (name, password_hash, is_admin, disabled, created_at) "
            f"VALUES ('{name}', 'x', {'TRUE' if admin else 'FALSE'}, FALSE, "
            "CURRENT_TIMESTAMP)"
        )
    # tables that get new columns have rows too
    await conn.execute_query(
        "INSERT INTO audit_log (actor, action, detail, created_at) "
        "VALUES ('qq:1', 'ban', '{}', CURRENT_TIMESTAMP)"
    )
    await conn.execute_query(
        "INSERT INTO keyword_rules (scope, match, pattern, reply, priority, enabled, "
        "created_at) VALUES ('global', 'exact', 'hi', 'hello', 0, TRUE, "
        "CURRENT_TIMESTAMP)"
    )
    await store.close_store()
    await store.init_store(url)  # start-up applies 0003
    try:
        from bot.auth import role_of
        from bot.store.models import User

        users = {u.name: (u.role, role_of(u)) for u in await User.all()}
        assert users == {"old-admin": ("admin", "admin"), "old-user": ("user", "user")}
        from bot.store.models import AuditLog, KeywordRule

        row = await AuditLog.get(action="ban")
        assert (row.target, row.before, row.after) == ("", "", "")
        rule = await KeywordRule.get(pattern="hi")
        assert (rule.hit_count, rule.last_hit_at) == (0, None)
    finally:
        await store.close_store()
