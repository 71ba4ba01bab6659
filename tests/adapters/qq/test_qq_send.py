"""Proactive sends to QQ against the NapCat-like client: ``send_group_msg`` and
``send_private_msg`` with one text segment; refusals when nothing is connected or
NapCat answers ``failed``."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.qq import Adapter
from bot import send as sending
from bot.runtime import Runtime
from bot.send import SendError, SendRefused
from tests.adapters.qq.adapter_harness import eventually
from tests.adapters.qq.napcat import NapCat
from tests.bot.send_harness import send_runtime

__all__ = ["send_runtime"]

TOKEN = "send-token"


class FailingNapCat(NapCat):
    async def _answer(self, frame: dict[str, Any]) -> None:
        self.calls.append(frame)
        await self.ws.send(
            '{"status":"failed","retcode":1400,"data":null,"message":"not in group",'
            f'"wording":"","echo":"{frame.get("echo")}"}}'
        )


async def test_group_and_private_sends(serve: Any, send_runtime: Runtime) -> None:
    served = await serve(Adapter, {"qq_access_token": TOKEN})
    with pytest.raises(SendError, match="no QQ account is connected"):
        await sending.send("qq:group:700001", "nobody there")
    peer = await NapCat(f"{served.ws_base}/onebot/v11/ws", 10001, TOKEN).connect()
    try:
        await eventually(lambda: bool(served.adapter.bots))
        await sending.send("qq:group:700001", "hello [CQ:at,qq=all]")
        await sending.send("qq:user:42", "你好")
        calls = [c for c in peer.calls if c["action"].startswith("send_")]
        assert [(c["action"], c["params"]) for c in calls] == [
            (
                "send_group_msg",
                {
                    "group_id": 700001,
                    "message": [
                        {"type": "text", "data": {"text": "hello [CQ:at,qq=all]"}}
                    ],
                },
            ),
            (
                "send_private_msg",
                {
                    "user_id": 42,
                    "message": [{"type": "text", "data": {"text": "你好"}}],
                },
            ),
        ]
    finally:
        await peer.close()


async def test_napcat_refusal_is_reported(serve: Any, send_runtime: Runtime) -> None:
    served = await serve(Adapter, {"qq_access_token": TOKEN})
    peer = await FailingNapCat(
        f"{served.ws_base}/onebot/v11/ws", 10001, TOKEN
    ).connect()
    try:
        await eventually(lambda: bool(served.adapter.bots))
        with pytest.raises(SendRefused, match="NapCat refused"):
            await sending.send("qq:group:1", "x")
    finally:
        await peer.close()
