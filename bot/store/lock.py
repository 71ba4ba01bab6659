"""A lock around migrations, so that two ``freechat migrate`` (or two instances
starting at once) on a fresh database do not both create the tables.

PostgreSQL: a session advisory lock (``pg_advisory_lock``) on a connection of its
own, held while the migrations run on Tortoise's. SQLite: an exclusive ``flock`` on
a file beside the database (the processes share the file system).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.exceptions import StoreError

#: the advisory lock's key: a stable 63-bit number derived from a name
LOCK_KEY = (
    int.from_bytes(
        hashlib.sha256(b"freechat:migrate").digest()[:8], "big", signed=False
    )
    >> 1
)
#: how long a migration waits for another one to finish
WAIT_S = 300.0
#: query parameters asyncpg understands (Tortoise adds its own, like maxsize)
_ASYNCPG_PARAMS = {"sslmode", "ssl", "sslrootcert", "sslcert", "sslkey", "passfile"}


def _asyncpg_dsn(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k in _ASYNCPG_PARAMS]
    return urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query), ""))


@contextlib.asynccontextmanager
async def _postgres_lock(url: str) -> AsyncIterator[None]:
    import asyncpg

    try:
        conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=30)
    except (OSError, asyncpg.PostgresError) as exc:
        raise StoreError(f"database.url: cannot connect ({exc})") from exc
    try:
        try:
            await asyncio.wait_for(
                conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY), WAIT_S
            )
        except TimeoutError:
            raise StoreError(
                f"another migration held the lock for over {WAIT_S:.0f} s"
            ) from None
        try:
            yield
        finally:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    finally:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await conn.close(timeout=5)


@contextlib.asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    try:
        import fcntl
    except ImportError:  # no flock (Windows): one process at a time is up to you
        yield
        return
    with path.open("a") as handle:
        # flock blocks: wait in a thread, never on the event loop
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.asynccontextmanager
async def migration_lock(url: str) -> AsyncIterator[None]:
    """Hold the database's migration lock (waits for another holder)."""
    if url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        async with _postgres_lock(url):
            yield
    elif url.startswith("sqlite://") and ":memory:" not in url:
        db = Path(url[len("sqlite://") :].split("?", 1)[0])
        async with _file_lock(db.with_name(db.name + ".migrate.lock")):
            yield
    else:
        yield
