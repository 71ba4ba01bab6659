"""Proactive sends to QQ (``qq:group:<id>``, ``qq:user:<id>``) through the first
connected account, as one text segment (never parsed as CQ codes)."""

from __future__ import annotations

from typing import Any

from nonebot.adapters.onebot.v11 import Message, MessageSegment
from nonebot.adapters.onebot.v11.exception import (
    ActionFailed,
    OneBotV11AdapterException,
)

from bot.metrics import MESSAGES_OUT
from bot.send import SendError, SendFn, SendRefused, Target


def sender(adapter: Any) -> SendFn:
    async def send(target: Target, text: str) -> None:
        bots = list(adapter.bots.values())
        if not bots:
            raise SendError(f"{target}: no QQ account is connected")
        bot = bots[0]
        message = Message(MessageSegment.text(text))
        try:
            if target.kind == "group":
                await bot.send_group_msg(group_id=int(target.id), message=message)
            else:
                await bot.send_private_msg(user_id=int(target.id), message=message)
        except ActionFailed as exc:
            raise SendRefused(f"{target}: NapCat refused ({exc})") from exc
        except OneBotV11AdapterException as exc:
            raise SendError(f"{target}: {type(exc).__name__} ({exc})") from exc
        MESSAGES_OUT.labels("qq").inc()

    return send
