"""Claims in the database (:class:`~bot.store.models.Claim`): where dedup claims and
leases go while Redis is away, so that several instances still handle a message
once. The table's primary key decides who wins; a lapsed row is taken over by an
update that only matches while it is lapsed (atomic in PostgreSQL and SQLite).
"""

from __future__ import annotations

import hashlib
import time

from tortoise.exceptions import IntegrityError

from bot.exceptions import StateError

from .models import Claim

#: longest key stored as is; longer ones are stored as their SHA-256
MAX_KEY = 191


def _key(key: str) -> str:
    if len(key) <= MAX_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


class DatabaseClaims:
    """:class:`bot.state.base.Leases` in the ``claims`` table. Every error of the
    database (down, starting up) is a :class:`StateError`."""

    #: lapsed rows are deleted at most this often (seconds)
    sweep_every = 60.0

    def __init__(self) -> None:
        self._swept = 0.0

    async def lease(self, key: str, owner: str, ttl: float) -> bool:
        key, now = _key(key), _now_ms()
        expires = now + max(int(ttl * 1000), 1)
        try:
            await self._sweep(now)
            if await Claim.filter(key=key, expires__lte=now).update(
                owner=owner, expires=expires
            ):
                return True  # it had lapsed: ours now
            try:
                await Claim.create(key=key, owner=owner, expires=expires)
            except IntegrityError:
                return False  # somebody holds it
            return True
        except Exception as exc:  # any driver error: the database cannot decide
            raise StateError(f"database claims unavailable ({exc!r})") from exc

    async def renew(self, key: str, owner: str, ttl: float) -> bool:
        now = _now_ms()
        try:
            if await Claim.filter(key=_key(key), owner=owner).update(
                expires=now + max(int(ttl * 1000), 1)
            ):
                return True
        except Exception as exc:
            raise StateError(f"database claims unavailable ({exc!r})") from exc
        return await self.lease(key, owner, ttl)  # lapsed and gone: take it if free

    async def release(self, key: str, owner: str) -> None:
        try:
            await Claim.filter(key=_key(key), owner=owner).delete()
        except Exception as exc:
            raise StateError(f"database claims unavailable ({exc!r})") from exc

    async def _sweep(self, now_ms: int) -> None:
        if time.monotonic() - self._swept < self.sweep_every:
            return
        self._swept = time.monotonic()
        await Claim.filter(expires__lt=now_ms).delete()
