"""Storage: Tortoise ORM on SQLite (default) or PostgreSQL, with migrations."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE

from bot.exceptions import StoreError

log = logging.getLogger(__name__)

MODELS_MODULE = "bot.store.models"
MIGRATIONS_MODULE = "bot.store.migrations"

#: plugins' own Tortoise apps: label -> (models module, migrations module)
_apps: dict[str, tuple[str, str]] = {}


def register_app(label: str, models: str, migrations: str) -> None:
    """Add a plugin's tables (its ``models.py``, with its own migrations) to the
    store; call before :func:`init_store` (a plugin does it when imported)."""
    _apps[label] = (models, migrations)


#: write-behind buffers (history's writer): flushed before reads that must see
#: everything written so far
_flushers: list[Callable[[], Awaitable[None]]] = []


def register_flusher(flush: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """Register a write-behind buffer's ``flush``; returns its disposer."""
    _flushers.append(flush)

    def dispose() -> None:
        if flush in _flushers:
            _flushers.remove(flush)

    return dispose


async def flush_pending() -> None:
    """Write what every write-behind buffer holds (read-your-writes for an API)."""
    for flush in tuple(_flushers):
        await flush()


def tortoise_config(url: str) -> dict[str, Any]:
    """The Tortoise config for ``url`` (one app, ``models``)."""
    if url.startswith("postgresql://"):
        url = "postgres://" + url[len("postgresql://") :]
    if url.startswith("sqlite://") and "synchronous=" not in url:
        # WAL (Tortoise's default) with synchronous=NORMAL: a commit is durable
        # against a crash of the process, and costs no fsync; only a power loss
        # can drop the last transactions. Add ?synchronous=FULL to the URL to pay
        # an fsync per write instead.
        url += ("&" if "?" in url else "?") + "synchronous=NORMAL"
    apps: dict[str, Any] = {
        "models": {
            "models": [MODELS_MODULE],
            "default_connection": "default",
            "migrations": MIGRATIONS_MODULE,
        }
    }
    for label, (models, migrations) in _apps.items():
        apps[label] = {
            "models": [models],
            "default_connection": "default",
            "migrations": migrations,
        }
    return {
        "connections": {"default": url},
        "apps": apps,
        "use_tz": True,
        "timezone": "UTC",
    }


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite://") and ":memory:" not in url:
        path = url[len("sqlite://") :].split("?", 1)[0]
        Path(path).parent.mkdir(parents=True, exist_ok=True)


async def migrate(url: str) -> None:
    """Apply every pending migration to the database at ``url``; one process at
    a time (:func:`bot.store.lock.migration_lock`)."""
    from tortoise.migrations.api import migrate as run_migrations

    from .lock import migration_lock

    _ensure_sqlite_dir(url)
    async with migration_lock(url):
        try:
            await run_migrations(config=tortoise_config(url))
        finally:
            await Tortoise.close_connections()
            await Tortoise._reset_apps()


async def init_store(url: str, *, apply_migrations: bool = True) -> None:
    """Migrate (by default) and connect the ORM."""
    _ensure_sqlite_dir(url)
    try:
        if apply_migrations:
            await migrate(url)
        # request handlers run in other tasks than start-up: share the context
        await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
    except (OSError, ConnectionError) as exc:
        raise StoreError(f"database.url: cannot connect ({exc})") from exc


async def _forget() -> None:
    await Tortoise.close_connections()
    await Tortoise._reset_apps()
    # Tortoise caches insert SQL per connection *name*, not dialect: a process that
    # moves from SQLite to PostgreSQL (the test suite does) must drop it.
    EXECUTOR_CACHE.clear()


async def close_store() -> None:
    """Close connections and forget the models' bindings (another URL may follow)."""
    await _forget()


async def ping() -> bool:
    """True when the database answers."""
    try:
        conn = connections.get("default")
        await conn.execute_query("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        log.warning("database ping failed: %s", exc)
        return False
    return True
