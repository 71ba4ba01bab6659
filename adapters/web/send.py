"""Proactive sends to web chat users (``web:user:<name>``): a ``notice`` frame on
every socket the user has open; refused when none is."""

from __future__ import annotations

from typing import Any

from bot.metrics import MESSAGES_OUT
from bot.send import SendFn, SendRefused, Target


def sender(adapter: Any) -> SendFn:
    async def send(target: Target, text: str) -> None:
        sockets = [c for c in list(adapter.connections) if c.user == target.id]
        if not sockets:
            raise SendRefused(f"{target}: the user has no web chat open")
        for conn in sockets:
            await conn.send({"type": "notice", "text": text})
        MESSAGES_OUT.labels("web").inc()

    return send
