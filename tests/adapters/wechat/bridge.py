"""A ComWeChat-like OneBot v12 bridge: the reverse WebSocket client.

It dials ``/onebot/v12/ws`` with ``Authorization: Bearer`` and the ``12.ComWeChat``
subprotocol, sends the ``connect`` meta event first, then ``status_update`` with its
bot (``self: {platform: wechat, user_id}``), heartbeats and message events with
string ids (``...@chatroom``) and ``mention`` segments, and answers actions with
``{"status","retcode","data","message","echo"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from typing import Any

import websockets

_ids = itertools.count(1)


class Bridge:
    def __init__(self, url: str, self_id: str = "wxid_bot", token: str = "") -> None:
        self.url = url
        self.self_id = self_id
        self.token = token
        self.calls: list[dict[str, Any]] = []
        self.cond = asyncio.Condition()
        self.ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    async def connect(self) -> Bridge:
        self.ws = await websockets.connect(
            self.url,
            additional_headers={"Authorization": f"Bearer {self.token}"},
            subprotocols=[websockets.Subprotocol("12.ComWeChat")],
            max_size=None,
        )
        self._reader = asyncio.create_task(self._read())
        await self.send(self.meta("connect", version=self.version()))
        await self.send(
            self.meta(
                "status_update",
                status={
                    "good": True,
                    "bots": [{"self": self.self_info(), "online": True}],
                },
            )
        )
        return self

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 3)

    def freeze(self) -> None:
        if self._reader is not None:
            self._reader.cancel()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if "action" in frame:
                    async with self.cond:
                        self.calls.append(frame)
                        self.cond.notify_all()
                    await self.ws.send(
                        json.dumps(
                            {
                                "status": "ok",
                                "retcode": 0,
                                "data": {"message_id": str(next(_ids)), "time": 0},
                                "message": "",
                                "echo": frame.get("echo"),
                            }
                        )
                    )
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def sends(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["action"] == "send_message"]

    async def wait_sends(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        async with self.cond:
            await asyncio.wait_for(
                self.cond.wait_for(lambda: len(self.sends()) >= n), timeout
            )
        return self.sends()

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        if not isinstance(frame, str | bytes):
            frame = json.dumps(frame)
        await self.ws.send(frame)

    # --------------------------------------------------------------- frames
    @staticmethod
    def version() -> dict[str, str]:
        return {"impl": "ComWeChat", "version": "1.2.0", "onebot_version": "12"}

    def self_info(self) -> dict[str, str]:
        return {"platform": "wechat", "user_id": self.self_id}

    def meta(self, detail: str, **fields: Any) -> dict[str, Any]:
        return {
            "id": uuid.uuid4().hex,
            "time": time.time(),
            "type": "meta",
            "detail_type": detail,
            "sub_type": "",
            **fields,
        }

    def group_message(
        self,
        text: str,
        *,
        group_id: str = "12345678@chatroom",
        user_id: str = "wxid_user1",
        mention: bool = True,
        message_id: str | None = None,
    ) -> dict[str, Any]:
        message: list[dict[str, Any]] = []
        if mention:
            message.append({"type": "mention", "data": {"user_id": self.self_id}})
            text = " " + text
        message.append({"type": "text", "data": {"text": text}})
        return {
            "id": uuid.uuid4().hex,
            "time": time.time(),
            "type": "message",
            "detail_type": "group",
            "sub_type": "",
            "message_id": message_id or uuid.uuid4().hex,
            "self": self.self_info(),
            "message": message,
            "alt_message": text,
            "group_id": group_id,
            "user_id": user_id,
        }

    def private_message(
        self, text: str, *, user_id: str = "wxid_user1", message_id: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": uuid.uuid4().hex,
            "time": time.time(),
            "type": "message",
            "detail_type": "private",
            "sub_type": "",
            "message_id": message_id or uuid.uuid4().hex,
            "self": self.self_info(),
            "message": [{"type": "text", "data": {"text": text}}],
            "alt_message": text,
            "user_id": user_id,
        }


def text_of(call: dict[str, Any]) -> str:
    return "".join(
        s["data"]["text"] for s in call["params"]["message"] if s["type"] == "text"
    )
