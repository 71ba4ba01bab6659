"""Proactive sends to Official Account followers (``mp:<account>:user:<openid>``)
through the customer-service API. It only works within 48 hours of the user's last
message: 45015 (window closed) and 45047 (quota used up) are refused, not retried."""

from __future__ import annotations

from typing import Any

import httpx

from bot.delivery import split_text
from bot.metrics import MESSAGES_OUT
from bot.send import SendError, SendFn, SendRefused, Target

from .exception import MPApiError, QuotaError


def sender(adapter: Any) -> SendFn:
    async def send(target: Target, text: str) -> None:
        client = adapter.clients.get(target.account)
        if client is None:
            raise SendRefused(f"{target}: no Official Account named {target.account!r}")
        for piece in split_text(text, adapter.mp_config.mp_max_chars):
            payload = {
                "touser": target.id,
                "msgtype": "text",
                "text": {"content": piece},
            }
            try:
                await client.call("message/custom/send", payload)
            except QuotaError as exc:
                raise SendRefused(
                    f"{target}: errcode {exc.errcode}, {exc.errmsg} (not retried)"
                ) from exc
            except MPApiError as exc:
                raise SendError(f"{target}: {exc}") from exc
            except httpx.HTTPError as exc:
                raise SendError(f"{target}: {type(exc).__name__} ({exc})") from exc
            MESSAGES_OUT.labels("mp").inc()

    return send
