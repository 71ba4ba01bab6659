"""Images and quotes from QQ reach the model through the whole bot (``freechat
run``, a NapCat-like client, the OpenAI stub): an image from a listed host as an
``image_url`` part, one from any other host never fetched and the user told."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from PIL import Image

from bot.vision import NOTICES
from tests.adapters.qq.adapter_harness import eventually
from tests.adapters.qq.napcat import NapCat, text_of
from tests.conftest import free_port

TOKEN = "media-process-token"


def config(**extra: Any) -> dict[str, Any]:
    return {
        "adapters": {"qq": {"access_token": TOKEN, "min_interval": 0}},
        "llm": {"vision": "on"},
        **extra,
    }


class ImageServer:
    """A loopback HTTP server with one PNG, counting the requests it gets."""

    def __init__(self) -> None:
        self.hits = 0
        self.port = free_port()
        out = io.BytesIO()
        Image.new("RGB", (40, 30), (200, 30, 30)).save(out, format="PNG")
        self.png = out.getvalue()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/pic.png?rkey=abc"

    async def _pic(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(body=self.png, content_type="image/png")

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        await response.prepare(request)
        await response.write(self.png[:20])
        await asyncio.sleep(3600)  # the rest never comes
        return response


@pytest.fixture
async def images() -> AsyncIterator[ImageServer]:
    server = ImageServer()
    app = web.Application()
    app.router.add_get("/pic.png", server._pic)
    app.router.add_get("/hang.png", server._hang)
    runner = web.AppRunner(app, shutdown_timeout=1.0)  # the hung handler
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", server.port).start()
    yield server
    await runner.cleanup()


async def connect(bp: Any) -> NapCat:
    url = f"ws://127.0.0.1:{bp.port}/onebot/v11/ws"
    return await NapCat(url, 10001, TOKEN).connect()


def at_with_image(peer: NapCat, url: str, text: str = "") -> dict[str, Any]:
    segments: list[dict[str, Any]] = [{"type": "at", "data": {"qq": "10001"}}]
    if text:
        segments.append({"type": "text", "data": {"text": f" {text}"}})
    segments.append({"type": "image", "data": {"file": "pic.png", "url": url}})
    return peer.group_segments(segments)


async def test_image_from_a_listed_host_reaches_the_model(
    bot_process: Any, openai_stub: Any, images: ImageServer
) -> None:
    openai_stub.set_default("a red rectangle")
    bp = await bot_process(config(media={"allowed_hosts": {"qq": ["127.0.0.1"]}}))
    peer = await connect(bp)
    try:
        await peer.send_event(at_with_image(peer, images.url, "what is this?"))
        await peer.send_event(at_with_image(peer, images.url))  # an image alone
        sends = await peer.wait_sends(2, timeout=30)
    finally:
        await peer.close()
    assert [text_of(c) for c in sends] == ["a red rectangle"] * 2
    assert images.hits == 2
    contents = [r["messages"][-1]["content"] for r in openai_stub.requests]
    alone, with_text = sorted(contents, key=len)  # answered concurrently
    assert with_text[0] == {"type": "text", "text": "what is this?"}
    assert [p["type"] for p in with_text] == ["text", "image_url"]
    assert [p["type"] for p in alone] == ["image_url"]
    uri = alone[0]["image_url"]["url"]
    assert uri.startswith("data:image/jpeg;base64,")
    shown = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert shown.size == (40, 30)


async def test_image_from_an_unlisted_host_is_not_fetched_and_the_user_told(
    bot_process: Any, openai_stub: Any, images: ImageServer
) -> None:
    openai_stub.set_default("I read your text")
    bp = await bot_process(config())  # the default list: QQ's CDNs only
    peer = await connect(bp)
    try:
        await peer.send_event(at_with_image(peer, images.url, "what is this?"))
        await peer.send_event(at_with_image(peer, images.url))
        sends = await peer.wait_sends(3, timeout=30)
    finally:
        await peer.close()
    assert images.hits == 0
    texts = [text_of(c) for c in sends]
    # the segment delivery sends the notice as a message of its own
    assert texts.count(NOTICES["refused"]) == 2
    assert "I read your text" in texts
    # the text still reached the model, the image as a placeholder; the image
    # alone did not cost a model call
    (request,) = openai_stub.requests
    assert request["messages"][-1]["content"] == "what is this?\n[image]"


async def test_a_hung_image_host_costs_the_answer_only_media_timeout(
    bot_process: Any, openai_stub: Any, images: ImageServer
) -> None:
    openai_stub.set_default("I read your text")
    media = {"allowed_hosts": {"qq": ["127.0.0.1"]}, "timeout": 1}
    bp = await bot_process(config(media=media))
    peer = await connect(bp)
    try:
        url = images.url.replace("pic.png", "hang.png")
        await peer.send_event(at_with_image(peer, url, "what is this?"))
        sends = await peer.wait_sends(2, timeout=30)
    finally:
        await peer.close()
    assert images.hits == 1
    assert [text_of(c) for c in sends] == [NOTICES["failed"], "I read your text"]
    (request,) = openai_stub.requests
    assert request["messages"][-1]["content"] == "what is this?\n[image]"


async def test_quoted_text_reaches_the_model(
    bot_process: Any, openai_stub: Any
) -> None:
    bp = await bot_process(config())
    peer = await connect(bp)
    try:
        peer.stored_message(
            424242, [{"type": "text", "data": {"text": "the sky is green"}}]
        )
        await peer.send_event(
            peer.group_segments(
                [
                    {"type": "reply", "data": {"id": "424242"}},
                    {"type": "at", "data": {"qq": "10001"}},
                    {"type": "text", "data": {"text": " is this true?"}},
                ]
            )
        )
        await peer.wait_sends(1, timeout=30)
    finally:
        await peer.close()
    (request,) = openai_stub.requests
    assert request["messages"][-1]["content"] == (
        "[quote] quoted: the sky is green\nis this true?"
    )


async def test_a_burst_is_answered_once_and_the_next_waits_its_turn(
    bot_process: Any, openai_stub: Any
) -> None:
    bp = await bot_process(config(plugins={"chat": {"merge_window": 2}}))
    peer = await connect(bp)
    try:
        for text in ("hi", "quick question", "what is 2+2?"):
            await peer.send_event(peer.group_message(text))
            await asyncio.sleep(0.3)
        (answer,) = await peer.wait_sends(1, timeout=30)
        await asyncio.sleep(2.5)  # a second answer to the burst would show by now
        assert len(peer.sends()) == 1
        assert text_of(answer) == "Hello from the stub."
        (request,) = openai_stub.requests
        assert request["messages"][-1]["content"] == "hi\nquick question\nwhat is 2+2?"

        # queue: a message while the answer is being written waits behind it
        openai_stub.reset()
        openai_stub.set_default("x" * 40, delay=0.05, chunk_chars=1)
        await peer.send_event(peer.group_message("first"))
        await eventually(lambda: openai_stub.open_streams == 1, 30)
        await peer.send_event(peer.group_message("second"))
        seen: list[tuple[int, int]] = []

        def second_asked() -> bool:
            seen.append((len(openai_stub.requests), openai_stub.state.completed))
            return len(openai_stub.requests) >= 2

        await eventually(second_asked, 30)
        await peer.wait_sends(3, timeout=30)
    finally:
        await peer.close()
    # when the second request came, the first answer was complete
    assert seen[-1] == (2, 1)
    assert [r["messages"][-1]["content"] for r in openai_stub.requests] == [
        "first",
        "second",
    ]
