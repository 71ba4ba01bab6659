"""Shared state: ``memory://`` (one process) or ``redis://`` (several instances)."""

from __future__ import annotations

from bot.exceptions import ConfigError

from .base import Leases, RateResult, ReserveResult, StateStore, Subscription
from .feed import FeedWatcher
from .memory import MemoryState

__all__ = [
    "FeedWatcher",
    "Leases",
    "MemoryState",
    "RateResult",
    "ReserveResult",
    "StateStore",
    "Subscription",
    "open_state",
]


def open_state(url: str, *, durable: Leases | None = None) -> StateStore:
    """Open the state store named by ``url``; ``durable`` takes Redis's claims
    while Redis is away (see :mod:`bot.state.redis`)."""
    if url.startswith("memory://"):
        return MemoryState()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisState

        return RedisState(url, durable=durable)
    raise ConfigError(f"state.url: unsupported scheme in {url.split('://')[0]!r}")
