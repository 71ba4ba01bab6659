"""The media fetcher against real HTTP servers on loopback: what it fetches, what it
refuses (hosts, redirects, addresses after DNS, sizes, slow bodies, fake images), and
that a refusal fetches nothing past the cap."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from PIL import Image

from bot.media import (
    MediaPolicy,
    MediaRefused,
    MediaTooLarge,
    MediaUnavailable,
    fetch_bytes,
    fetch_image,
    policy_for,
)
from tests.conftest import free_port


def _png(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), color=1 if mode == "1" else "red").save(
        out, format="PNG"
    )
    return out.getvalue()


@dataclass
class Origin:
    """An HTTP server on one loopback address that counts what it served."""

    host: str
    port: int = 0
    hits: list[str] = field(default_factory=list)
    streamed: int = 0
    runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"


async def _start(origin: Origin, other: Origin | None = None) -> None:
    big_png = _png(3000, 1000)

    async def handle(request: web.Request) -> web.StreamResponse:
        origin.hits.append(request.path)
        path = request.path
        if path == "/img.png":
            return web.Response(body=big_png, content_type="image/png")
        if path == "/html.png":
            return web.Response(
                body=b"<html><script>alert(1)</script></html>",
                content_type="image/png",
            )
        if path == "/declared-huge":
            return web.Response(body=b"x" * 300_000, content_type="image/png")
        if path == "/bomb.png":
            return web.Response(body=_png(5000, 5000, "1"), content_type="image/png")
        if path == "/endless":
            response = web.StreamResponse()
            response.content_type = "image/png"
            await response.prepare(request)
            chunk = b"\0" * 65536
            try:
                for _ in range(3200):  # 200 MB if nobody stops reading
                    await response.write(chunk)
                    origin.streamed += len(chunk)
            except (ConnectionError, RuntimeError):
                pass
            return response
        if path == "/slow":
            response = web.StreamResponse(headers={"Content-Length": "1000"})
            await response.prepare(request)
            try:
                for _ in range(1000):
                    await response.write(b"x")
                    await asyncio.sleep(0.5)
            except (ConnectionError, RuntimeError):
                pass
            return response
        if path.startswith("/to/"):
            target = {
                "loopback2": other.url("/img.png") if other else "",
                "metadata": "http://169.254.169.254/latest/meta-data/",
                "localhost": f"http://localhost:{origin.port}/img.png",
                "self": origin.url("/img.png"),
                "loop": origin.url("/to/loop"),
                "file": "file:///etc/passwd",
            }[path[4:]]
            raise web.HTTPFound(target)
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    origin.runner = web.AppRunner(app)
    await origin.runner.setup()
    origin.port = origin.port or free_port()
    await web.TCPSite(origin.runner, origin.host, origin.port).start()


@pytest.fixture
async def origins() -> AsyncIterator[tuple[Origin, Origin]]:
    second = Origin("127.0.0.2")
    await _start(second)
    first = Origin("127.0.0.1")
    await _start(first, other=second)
    yield first, second
    for origin in (first, second):
        assert origin.runner is not None
        await origin.runner.cleanup()


def _policy(**kw: object) -> MediaPolicy:
    base: dict[str, object] = {
        "allowed_hosts": ("127.0.0.1",),
        "max_bytes": 256 * 1024,
        "timeout": 3.0,
        "max_side": 512,
    }
    base.update(kw)
    return MediaPolicy(**base)  # type: ignore[arg-type]


async def test_an_allowed_image_is_fetched_downscaled_and_reencoded(
    origins: tuple[Origin, Origin],
) -> None:
    first, _ = origins
    media = await fetch_image(first.url("/img.png"), _policy())
    assert (media.width, media.height) == (512, 171)
    assert media.mime == "image/jpeg"
    assert media.data_uri().startswith("data:image/jpeg;base64,")
    with Image.open(io.BytesIO(media.data)) as image:
        assert image.size == (512, 171)


async def test_a_host_off_the_list_is_never_contacted(
    origins: tuple[Origin, Origin],
) -> None:
    _, second = origins
    with pytest.raises(MediaRefused, match="allow-list"):
        await fetch_image(second.url("/img.png"), _policy())
    assert second.hits == []


@pytest.mark.parametrize("hop", ["loopback2", "metadata", "localhost", "file"])
async def test_every_redirect_hop_is_checked(
    origins: tuple[Origin, Origin], hop: str
) -> None:
    first, second = origins
    with pytest.raises(MediaRefused):
        await fetch_image(first.url(f"/to/{hop}"), _policy())
    assert first.hits == [f"/to/{hop}"]
    assert second.hits == []


async def test_an_allowed_redirect_is_followed_and_loops_are_cut(
    origins: tuple[Origin, Origin],
) -> None:
    first, _ = origins
    media = await fetch_image(first.url("/to/self"), _policy())
    assert media.width == 512
    with pytest.raises(MediaRefused, match="redirects"):
        await fetch_bytes(first.url("/to/loop"), _policy())
    assert first.hits.count("/to/loop") == 4  # the first request and three hops


async def test_a_listed_name_that_resolves_to_a_private_address_is_refused(
    origins: tuple[Origin, Origin],
) -> None:
    first, _ = origins
    policy = _policy(allowed_hosts=("localhost",))
    with pytest.raises(MediaRefused, match="non-public"):
        await fetch_image(f"http://localhost:{first.port}/img.png", policy)
    assert first.hits == []
    # listing the address itself is the operator's explicit choice
    ok = _policy(allowed_hosts=("localhost", "127.0.0.0/8", "::1"))
    media = await fetch_image(f"http://localhost:{first.port}/img.png", ok)
    assert media.width == 512


@pytest.mark.parametrize(
    "url",
    [
        "http://[::ffff:127.0.0.1]:1/img.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:1/",
        "http://[::]:1/",
        "ftp://127.0.0.1/img.png",
        "http://user:pw@127.0.0.1:1/img.png",
    ],
)
async def test_addresses_schemes_and_credentials_refused_before_connecting(
    url: str,
) -> None:
    # "any" addresses are refused even when an operator lists them
    policy = _policy(allowed_hosts=("0.0.0.0", "::", "*.example.com"))
    with pytest.raises(MediaRefused):
        await fetch_bytes(url, policy)


async def test_sizes_are_capped_declared_and_streamed(
    origins: tuple[Origin, Origin],
) -> None:
    first, _ = origins
    with pytest.raises(MediaTooLarge, match="declared"):
        await fetch_bytes(first.url("/declared-huge"), _policy())
    with pytest.raises(MediaTooLarge, match="over the cap"):
        await fetch_bytes(first.url("/endless"), _policy())
    await asyncio.sleep(0.2)
    # the reader stopped at the cap: what the server got out is the cap plus what
    # loopback socket buffers hold, nowhere near the 200 MB it would have sent
    assert first.streamed < 32 * 1024 * 1024


async def test_a_slow_body_hits_the_deadline(origins: tuple[Origin, Origin]) -> None:
    first, _ = origins
    started = time.monotonic()
    with pytest.raises(MediaUnavailable, match="within"):
        await fetch_bytes(first.url("/slow"), _policy(timeout=1.0))
    assert time.monotonic() - started < 5


async def test_content_decides_what_an_image_is(
    origins: tuple[Origin, Origin],
) -> None:
    first, _ = origins
    with pytest.raises(MediaRefused, match="not an image"):
        await fetch_image(first.url("/html.png"), _policy())
    with pytest.raises(MediaTooLarge, match="pixels"):
        await fetch_image(first.url("/bomb.png"), _policy(max_pixels=1_000_000))


async def test_missing_and_unreachable() -> None:
    dead = free_port()
    with pytest.raises(MediaUnavailable):
        await fetch_bytes(f"http://127.0.0.1:{dead}/x.png", _policy())


def test_policy_matching_rules() -> None:
    policy = policy_for(
        {"*": ["cdn.example.com"], "qq": ["*.qpic.cn", "10.1.0.0/16"]}, "qq"
    )
    assert policy.host_allowed("gchat.qpic.cn")
    assert policy.host_allowed("qpic.cn")
    assert policy.host_allowed("CDN.example.com.")
    assert not policy.host_allowed("evilqpic.cn")
    assert not policy.host_allowed("cdn.example.com.evil.net")
    assert policy.host_allowed("10.1.2.3")
    assert not policy.host_allowed("10.2.0.1")
    assert not policy_for({"qq": ["*.qpic.cn"]}, "mp").host_allowed("a.qpic.cn")
