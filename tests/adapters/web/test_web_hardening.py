"""The web chat socket under hostile input (issue 11): lone surrogates (F1) and a
socket that outlives its session (F6)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
import websockets

from tests.adapters.web.test_web_chat import PASSWORD, WebChat
from tests.fakes.openai_stub import OpenAIStub

REPLACEMENT = "\ufffd"


@pytest.fixture
async def bot(bot_process: Any) -> Any:
    bp = await bot_process({"plugins": {"chat": {}, "history": {}}})
    bp.cli("user", "add", "alice", input=PASSWORD + "\n")
    bp.cli("user", "add", "bob", input=PASSWORD + "\n")
    return bp


async def _cookies(bot: Any, name: str) -> httpx.Cookies:
    async with httpx.AsyncClient(base_url=bot.base_url) as client:
        r = await client.post(
            "/api/auth/login", json={"username": name, "password": PASSWORD}
        )
        assert r.status_code == 200
        return client.cookies


def _text(frames: list[dict[str, Any]]) -> str:
    return "".join(f.get("text", "") for f in frames if f["type"] == "delta")


async def test_lone_surrogates_are_replaced_and_history_keeps_going(
    bot: Any, openai_stub: OpenAIStub
) -> None:
    alice, bob = await _cookies(bot, "alice"), await _cookies(bot, "bob")
    openai_stub.set_default("ok")
    async with WebChat(bot.base_url, alice) as chat:
        await chat.send("hello")
        first = await chat.until_done()
        conv = first[0]["conversation_id"]
        # into an existing conversation (json.dumps sends it as "\ud83d")
        await chat.send("x \ud83d y", conv)
        frames = await chat.until_done()
        assert frames[-1]["finish_reason"] == "stop"
        assert openai_stub.requests[-1]["messages"][-1]["content"] == (
            f"x {REPLACEMENT} y"
        )
        # a new conversation whose title would hold it
        await chat.send("\udc00 title", None)
        frames = await chat.until_done()
        assert frames[0]["type"] == "start"
        assert frames[0]["title"] == f"{REPLACEMENT} title"
        assert frames[-1]["finish_reason"] == "stop"
        # the socket is not left "busy"
        await chat.send("next", conv)
        frames = await chat.until_done()
        assert _text(frames) == "ok"
    # everyone's history is still written and read
    async with WebChat(bot.base_url, bob) as chat:
        await chat.send("bob here")
        bob_conv = (await chat.until_done())[0]["conversation_id"]
    async with httpx.AsyncClient(base_url=bot.base_url, timeout=15) as client:
        client.cookies = alice
        items = (await client.get("/api/conversations")).json()["items"]
        assert f"{REPLACEMENT} title" in [i["title"] for i in items]
        messages = (await client.get(f"/api/conversations/{conv}")).json()["messages"]
        contents = [m["content"] for m in messages]
        assert f"x {REPLACEMENT} y" in contents
        assert "next" in contents
        client.cookies = bob
        messages = (await client.get(f"/api/conversations/{bob_conv}")).json()
        assert messages["messages"][0]["content"] == "bob here"


async def test_sign_out_closes_the_sessions_sockets(
    bot: Any, openai_stub: OpenAIStub
) -> None:
    alice = await _cookies(bot, "alice")
    other = await _cookies(bot, "alice")  # a second sign-in of the same user
    openai_stub.set_default("ok")
    async with (
        WebChat(bot.base_url, alice) as chat,
        WebChat(bot.base_url, other) as kept,
    ):
        await chat.send("before")
        assert _text(await chat.until_done()) == "ok"
        asked = len(openai_stub.requests)
        async with httpx.AsyncClient(base_url=bot.base_url) as client:
            client.cookies = alice
            r = await client.post(
                "/api/auth/logout", headers={"X-CSRF-Token": alice["freechat_csrf"]}
            )
            assert r.status_code == 204
        # closed by the server, without the client sending anything
        await asyncio.wait_for(chat.ws.wait_closed(), 10)
        assert chat.ws.close_code == 4401
        with contextlib.suppress(websockets.ConnectionClosed):
            await chat.send("after sign-out")
        # the other session's socket still works
        await kept.send("still here")
        assert _text(await kept.until_done()) == "ok"
    await asyncio.sleep(0.3)
    assert len(openai_stub.requests) == asked + 1
