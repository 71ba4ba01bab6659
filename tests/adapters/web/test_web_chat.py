"""The browser's WebSocket protocol against a running FreeChat (see PROTOCOL.md)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Self

import httpx
import pytest
import websockets

from tests.fakes.openai_stub import OpenAIStub

PASSWORD = "correct horse battery"


class WebChat:
    """A browser-like client of ``/api/chat/ws``."""

    def __init__(
        self, base_url: str, cookies: httpx.Cookies, origin: str | None = None
    ):
        self.url = base_url.replace("http://", "ws://") + "/api/chat/ws"
        self.headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        self.headers["Origin"] = origin or base_url
        self.ws: Any = None

    async def __aenter__(self) -> Self:
        self.ws = await websockets.connect(self.url, additional_headers=self.headers)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def send(self, text: str, conversation_id: str | None = None) -> str:
        frame_id = uuid.uuid4().hex[:8]
        await self.raw(
            {
                "type": "send",
                "id": frame_id,
                "conversation_id": conversation_id,
                "text": text,
            }
        )
        return frame_id

    async def raw(self, frame: Any) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, timeout: float = 10) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def until_done(self, timeout: float = 20) -> list[dict[str, Any]]:
        frames = []
        while True:
            frame = await self.recv(timeout)
            frames.append(frame)
            if frame["type"] in ("done",):
                return frames


@pytest.fixture
async def bot(bot_process):
    bp = await bot_process(
        {"plugins": {"chat": {}}, "server": {"max_message_chars": 200}}
    )
    bp.cli("user", "add", "alice", input=PASSWORD + "\n")
    return bp


@pytest.fixture
async def cookies(bot) -> httpx.Cookies:
    async with httpx.AsyncClient(base_url=bot.base_url) as client:
        r = await client.post(
            "/api/auth/login", json={"username": "alice", "password": PASSWORD}
        )
        assert r.status_code == 200
        return client.cookies


async def test_answer_streams_in_several_updates(
    bot, cookies, openai_stub: OpenAIStub
) -> None:
    openai_stub.script(
        "The answer arrives token by token.", delay=0.01, reasoning="thinking"
    )
    async with WebChat(bot.base_url, cookies) as chat:
        frame_id = await chat.send("hello")
        frames = await chat.until_done()
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "start"
    assert frames[0]["id"] == frame_id
    assert frames[0]["conversation_id"]
    deltas = [f["text"] for f in frames if f["type"] == "delta"]
    assert len(deltas) > 3
    assert "".join(deltas) == "The answer arrives token by token."
    assert "".join(f["text"] for f in frames if f["type"] == "reasoning") == "thinking"
    assert frames[-1]["finish_reason"] == "stop"
    assert frames[-1]["usage"]["completion_tokens"] > 0


async def test_stop_closes_upstream_within_a_second(
    bot, cookies, openai_stub: OpenAIStub
) -> None:
    openai_stub.script("x" * 500, delay=0.02, chunk_chars=1)
    async with WebChat(bot.base_url, cookies) as chat:
        await chat.send("long answer please")
        got_delta = False
        while not got_delta:
            got_delta = (await chat.recv())["type"] == "delta"
        await chat.raw({"type": "stop"})
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        closed = await asyncio.to_thread(
            openai_stub.wait_for, lambda: openai_stub.disconnects == 1, 5
        )
        assert closed
        assert loop.time() - t0 < 1.0
        frames = await chat.until_done()
        assert frames[-1]["finish_reason"] == "cancelled"
        # the socket is still usable after a stop
        openai_stub.script("again")
        await chat.send("once more")
        frames = await chat.until_done()
        assert (
            "".join(f.get("text", "") for f in frames if f["type"] == "delta")
            == "again"
        )


async def test_closing_the_socket_closes_upstream(
    bot, cookies, openai_stub: OpenAIStub
) -> None:
    openai_stub.script("y" * 500, delay=0.02, chunk_chars=1)
    chat = WebChat(bot.base_url, cookies)
    await chat.__aenter__()
    await chat.send("go")
    while (await chat.recv())["type"] != "delta":
        pass
    await chat.__aexit__()
    assert await asyncio.to_thread(
        openai_stub.wait_for, lambda: openai_stub.disconnects == 1, 3
    )


BAD_FRAMES = [
    "not json",
    "[1, 2, 3]",
    '{"no": "type"}',
    '{"type": 5}',
    '{"type": "unknown"}',
    '{"type": "send", "id": 7, "text": "x"}',
    '{"type": "send", "id": "a", "text": ""}',
    '{"type": "send", "id": "a", "text": ["x"]}',
    '{"type": "send", "id": "' + "i" * 100 + '", "text": "x"}',
    '{"type": "send", "id": "a", "text": "x", "conversation_id": 12}',
    '{"type": "send", "id": "a", "text": "' + "long " * 50 + '"}',
    '{"type": "send", "id": "a", "text": "x", "conversation_id": "no-such-id"}',
    '{"a": ' * 5000 + "1" + "}" * 5000,
]


async def test_bad_frames_get_errors_and_change_nothing(
    bot, cookies, openai_stub
) -> None:
    async with WebChat(bot.base_url, cookies) as chat:
        for frame in BAD_FRAMES:
            await chat.raw(frame)
            reply = await chat.recv()
            assert reply["type"] == "error", frame[:80]
            assert reply["code"] in ("bad_frame", "too_long", "not_found")
            # the socket stays open and works
            await chat.raw({"type": "ping"})
            assert (await chat.recv())["type"] == "pong"
    assert openai_stub.requests == []
    async with httpx.AsyncClient(base_url=bot.base_url, cookies=cookies) as client:
        assert (await client.get("/api/conversations")).json()["items"] == []


async def test_one_answer_at_a_time(bot, cookies, openai_stub: OpenAIStub) -> None:
    openai_stub.script("z" * 100, delay=0.02, chunk_chars=1)
    async with WebChat(bot.base_url, cookies) as chat:
        await chat.send("first")
        second = await chat.send("second")
        frames = []
        while True:
            f = await chat.recv()
            frames.append(f)
            if f["type"] == "error":
                break
        assert f["code"] == "busy"
        assert f["id"] == second


async def test_without_session_the_socket_is_refused(bot) -> None:
    url = bot.base_url.replace("http://", "ws://") + "/api/chat/ws"
    async with websockets.connect(url) as ws:
        with pytest.raises(websockets.ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd.code == 4401


async def test_cross_origin_socket_is_refused(bot, cookies) -> None:
    chat = WebChat(bot.base_url, cookies, origin="http://evil.example")
    with pytest.raises(websockets.InvalidStatus) as info:
        await chat.__aenter__()
    assert info.value.response.status_code == 403


async def test_conversation_continues_and_lists(
    bot, cookies, openai_stub: OpenAIStub
) -> None:
    async with WebChat(bot.base_url, cookies) as chat:
        await chat.send("first message")
        frames = await chat.until_done()
        conv = frames[0]["conversation_id"]
        await chat.send("second message", conversation_id=conv)
        frames = await chat.until_done()
        assert frames[0]["conversation_id"] == conv
    async with httpx.AsyncClient(base_url=bot.base_url, cookies=cookies) as client:
        items = (await client.get("/api/conversations")).json()["items"]
        assert [i["id"] for i in items] == [conv]
        assert items[0]["title"] == "first message"


async def test_list_and_switch_over_the_socket(
    bot, cookies, openai_stub: OpenAIStub
) -> None:
    openai_stub.set_default("answer one")
    async with WebChat(bot.base_url, cookies) as chat:
        await chat.send("question one")
        conv = (await chat.until_done())[0]["conversation_id"]
        await chat.raw({"type": "list"})
        listing = await chat.recv()
        assert listing["type"] == "conversations"
        assert [i["id"] for i in listing["items"]] == [conv]
        await chat.raw({"type": "switch", "conversation_id": conv})
        history = await chat.recv()
        assert history["type"] == "history"
        assert history["conversation_id"] == conv
        await chat.raw({"type": "switch", "conversation_id": "someone-elses"})
        assert (await chat.recv())["code"] == "not_found"
