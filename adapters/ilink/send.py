"""Proactive sends to iLink users (``ilink:user:<id>@im.wechat``).

iLink only delivers a bot message with a ``context_token`` the user's own message
carried: the adapter remembers the last one per user (:func:`remember`, in the
database, so it survives a restart) and a send to a user who never wrote is refused
with a clear reason instead of a silent failure.
"""

from __future__ import annotations

from typing import Any

from bot.metrics import MESSAGES_OUT
from bot.send import SendError, SendFn, SendRefused, Target

from . import store
from .exception import ApiError, ILinkError, SessionExpired


def context_key(user_id: str) -> str:
    return f"ilink:context:{user_id}"


async def remember(user_id: str, context_token: str) -> None:
    """Keep ``context_token`` as the user's latest (called for every message)."""
    if context_token:
        await store.set_value(context_key(user_id), context_token)


def sender(adapter: Any) -> SendFn:
    async def send(target: Target, text: str) -> None:
        token = await store.get_value(context_key(target.id))
        if not token:
            raise SendRefused(
                f"{target}: no context_token for this user yet (iLink can only "
                "message a user who has written to the bot)"
            )
        if adapter.status == "expired":
            raise SendRefused(f"{target}: the iLink session expired; log in again")
        try:
            await adapter.client.send_text(target.id, token, text)
        except SessionExpired as exc:
            raise SendRefused(f"{target}: the iLink session expired ({exc})") from exc
        except ApiError as exc:
            raise SendRefused(f"{target}: iLink refused ({exc})") from exc
        except ILinkError as exc:
            raise SendError(f"{target}: {exc}") from exc
        MESSAGES_OUT.labels("ilink").inc()

    return send
