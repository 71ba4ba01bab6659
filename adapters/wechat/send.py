"""Proactive sends to WeChat groups and contacts through the OneBot v12 bridge
(``wechat:group:<id>@chatroom``, ``wechat:user:<wxid>``), as one text segment."""

from __future__ import annotations

from typing import Any

from nonebot.adapters.onebot.v12 import Message, MessageSegment
from nonebot.adapters.onebot.v12.exception import (
    ActionFailed,
    OneBotV12AdapterException,
)

from bot.metrics import MESSAGES_OUT
from bot.send import SendError, SendFn, SendRefused, Target


def sender(adapter: Any) -> SendFn:
    async def send(target: Target, text: str) -> None:
        bots = list(adapter.bots.values())
        if not bots:
            raise SendError(f"{target}: no WeChat bridge is connected")
        message = Message(MessageSegment.text(text))
        key = "group_id" if target.kind == "group" else "user_id"
        detail = "group" if target.kind == "group" else "private"
        try:
            await bots[0].send_message(
                detail_type=detail, message=message, **{key: target.id}
            )
        except ActionFailed as exc:
            raise SendRefused(f"{target}: the bridge refused ({exc})") from exc
        except OneBotV12AdapterException as exc:
            raise SendError(f"{target}: {type(exc).__name__} ({exc})") from exc
        MESSAGES_OUT.labels("wechat").inc()

    return send
