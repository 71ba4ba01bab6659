"""Proactive sends through WeCom, with each channel's documented limits:

- ``wecom:app:<app>:user:<userid>``: ``message/send`` of a self-built app, split at
  ``max_chars`` (30 messages a minute per user, counted in the shared state);
- ``wecom:robot:<robot>``: a group robot webhook (20 messages a minute);
- ``wecom:bot:<bot>:chat:<chatid>``: ``aibot_send_msg`` on the AI bot's long
  connection (30 a minute per conversation; markdown).
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.metrics import MESSAGES_OUT
from bot.send import SendError, SendFn, SendRefused, Target

from .api import send_group_robot
from .exception import WeComApiError
from .longconn import new_req_id


def limits(target: Target) -> list[tuple[int, float]]:
    if target.kind == "robot":
        return [(20, 60.0)]
    return [(30, 60.0), (1000, 3600.0)]


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [text]


def sender(adapter: Any) -> SendFn:
    cfg = adapter.wecom_config

    async def app(target: Target, text: str) -> None:
        client = adapter.clients.get(target.account)
        if client is None:
            raise SendRefused(f"{target}: no WeCom app named {target.account!r}")
        for piece in _split(text, cfg.wecom_max_chars):
            await client.send_text(target.id, piece)

    async def robot(target: Target, text: str) -> None:
        found = [r for r in cfg.wecom_robots if r.name == target.account]
        if not found:
            raise SendRefused(f"{target}: no WeCom robot named {target.account!r}")
        await send_group_robot(
            found[0].key, text=text, base_url=cfg.wecom_api_base, http=adapter._http
        )

    async def aibot(target: Target, text: str) -> None:
        conn = adapter.connections.get(target.account)
        if conn is None:
            raise SendRefused(f"{target}: no WeCom AI bot named {target.account!r}")
        frame = {
            "cmd": "aibot_send_msg",
            "headers": {"req_id": new_req_id()},
            "body": {
                "chatid": target.id,
                "msgtype": "markdown",
                "markdown": {"content": text},
            },
        }
        if not await conn.send(frame):
            raise SendError(f"{target}: the AI bot's long connection is down")
        MESSAGES_OUT.labels("wecom").inc()

    async def send(target: Target, text: str) -> None:
        way = robot if target.kind == "robot" else app if target.via == "app" else aibot
        try:
            await way(target, text)
        except WeComApiError as exc:
            raise SendRefused(f"{target}: WeCom refused ({exc})") from exc
        except httpx.HTTPError as exc:
            raise SendError(f"{target}: {type(exc).__name__} ({exc})") from exc

    return send
