"""Every change through the admin API: an audit row (who, what, before, after,
when), then a message on the change feed so every instance applies it at once."""

from __future__ import annotations

import json
from typing import Any

from bot.runtime import get_runtime
from bot.store.models import AuditLog


def _json(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


async def record(
    actor: str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
    *,
    channel: str | None = None,
    message: dict[str, Any] | None = None,
) -> None:
    """Write the audit row, then publish ``message`` on ``channel`` (if given)."""
    await AuditLog.create(
        actor=actor[:191],
        action=action[:64],
        target=target[:191],
        before=_json(before),
        after=_json(after),
        detail=_json({"target": target}),
    )
    if channel is not None:
        await get_runtime().state.publish(channel, message or {})
