"""A NapCat-like OneBot v11 implementation: the reverse WebSocket client.

It dials ``/onebot/v11/ws`` with NapCat's headers (``X-Self-ID``, ``Authorization:
Bearer``, ``X-Client-Role: Universal``, ``User-Agent: OneBot/11``), sends the lifecycle
``connect`` meta event, heartbeats, and group/private message events in array format,
and answers API calls (``{"action","params","echo"}``) with
``{"status","retcode","data","echo"}`` like NapCat does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from typing import Any

import websockets

_ids = itertools.count(1_000_000)


class NapCat:
    def __init__(
        self, url: str, self_id: int = 10001, token: str | None = None
    ) -> None:
        self.url = url
        self.self_id = self_id
        self.token = token
        self.calls: list[dict[str, Any]] = []
        self.sent = asyncio.Condition()
        self.ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        #: when False the client stops reading: the socket stays open but dead
        self.alive = True
        self.error: Exception | None = None
        self.closed: asyncio.Event = asyncio.Event()
        self.message_ids = itertools.count(1)
        #: what ``get_msg`` answers, by message id; ``get_forward_msg``, by id
        self.stored: dict[int, dict[str, Any]] = {}
        self.forwards: dict[str, list[dict[str, Any]]] = {}

    # -------------------------------------------------------------- connect
    def headers(self) -> dict[str, str]:
        return {
            "X-Self-ID": str(self.self_id),
            "Authorization": f"Bearer {self.token or ''}",
            "X-Client-Role": "Universal",
            "User-Agent": "OneBot/11",
        }

    async def connect(self) -> NapCat:
        self.ws = await websockets.connect(
            self.url, additional_headers=self.headers(), max_size=None
        )
        self._reader = asyncio.create_task(self._read())
        await self.send_event(self.lifecycle())
        return self

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 3)

    def freeze(self) -> None:
        """Become half-open: stop reading and answering, never close."""
        self.alive = False
        if self._reader is not None:
            self._reader.cancel()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if "action" in frame:
                    await self._answer(frame)
        except websockets.ConnectionClosed:
            pass
        except Exception as exc:
            self.error = exc
            raise
        finally:
            self.closed.set()

    def reply_data(self, frame: dict[str, Any]) -> dict[str, Any]:
        if frame["action"] in ("send_msg", "send_group_msg", "send_private_msg"):
            return {"message_id": next(self.message_ids)}
        if frame["action"] == "get_login_info":
            return {"user_id": self.self_id, "nickname": "napcat"}
        if frame["action"] == "get_msg":
            return self.stored.get(int(frame["params"]["message_id"]), {})
        if frame["action"] == "get_forward_msg":
            return {"messages": self.forwards.get(str(frame["params"]["id"]), [])}
        return {}

    async def _answer(self, frame: dict[str, Any]) -> None:
        async with self.sent:
            self.calls.append(frame)
            self.sent.notify_all()
        reply = {
            "status": "ok",
            "retcode": 0,
            "data": self.reply_data(frame),
            "message": "",
            "wording": "",
            "echo": frame.get("echo"),
        }
        await self.ws.send(json.dumps(reply))

    def sends(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["action"] == "send_msg"]

    async def wait_sends(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        async with self.sent:
            await asyncio.wait_for(
                self.sent.wait_for(lambda: len(self.sends()) >= n), timeout
            )
        return self.sends()

    # --------------------------------------------------------------- events
    async def send_event(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event, ensure_ascii=False))

    async def send_raw(self, raw: str | bytes) -> None:
        await self.ws.send(raw)

    def _base(self, post_type: str) -> dict[str, Any]:
        return {
            "time": int(time.time()),
            "self_id": self.self_id,
            "post_type": post_type,
        }

    def lifecycle(self) -> dict[str, Any]:
        return {
            **self._base("meta_event"),
            "meta_event_type": "lifecycle",
            "sub_type": "connect",
        }

    def heartbeat(self) -> dict[str, Any]:
        return {
            **self._base("meta_event"),
            "meta_event_type": "heartbeat",
            "status": {"online": True, "good": True},
            "interval": 30000,
        }

    def group_message(
        self,
        text: str,
        *,
        group_id: int = 20001,
        user_id: int = 30001,
        at_self: bool = True,
        message_id: int | None = None,
        role: str = "member",
    ) -> dict[str, Any]:
        segments: list[dict[str, Any]] = []
        raw = ""
        if at_self:
            segments.append({"type": "at", "data": {"qq": str(self.self_id)}})
            raw = f"[CQ:at,qq={self.self_id}] "
            text = " " + text
        segments.append({"type": "text", "data": {"text": text}})
        return {
            **self._base("message"),
            "message_type": "group",
            "sub_type": "normal",
            "message_id": message_id if message_id is not None else next(_ids),
            "group_id": group_id,
            "user_id": user_id,
            "anonymous": None,
            "message": segments,
            "raw_message": raw + text.strip(),
            "font": 14,
            "sender": {
                "user_id": user_id,
                "nickname": "user",
                "card": "",
                "role": role,
            },
            "message_format": "array",
        }

    def group_segments(
        self, segments: list[dict[str, Any]], *, user_id: int = 30001, **extra: Any
    ) -> dict[str, Any]:
        """A group message of the given segments (array format)."""
        event = self.group_message("", user_id=user_id, at_self=False, **extra)
        event["message"] = segments
        event["raw_message"] = ""
        return event

    def stored_message(
        self, message_id: int, segments: list[dict[str, Any]], *, user_id: int = 30002
    ) -> None:
        """Remember a message for ``get_msg`` like NapCat answers it."""
        self.stored[message_id] = {
            "time": int(time.time()),
            "message_type": "group",
            "message_id": message_id,
            "real_id": message_id,
            "sender": {"user_id": user_id, "nickname": "quoted", "card": ""},
            "message": segments,
        }

    def private_message(
        self, text: str, *, user_id: int = 30001, message_id: int | None = None
    ) -> dict[str, Any]:
        return {
            **self._base("message"),
            "message_type": "private",
            "sub_type": "friend",
            "message_id": message_id if message_id is not None else next(_ids),
            "user_id": user_id,
            "message": [{"type": "text", "data": {"text": text}}],
            "raw_message": text,
            "font": 14,
            "sender": {"user_id": user_id, "nickname": "user"},
            "message_format": "array",
        }


def text_of(call: dict[str, Any]) -> str:
    """The text of a ``send_msg`` call (its text segments joined)."""
    message = call["params"]["message"]
    return "".join(seg["data"]["text"] for seg in message if seg["type"] == "text")
