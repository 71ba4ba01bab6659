"""The HTTP edge of a running bot (issue 11): bodies refused while read (F3),
security headers (F5), the Host check, 422s without the input and a start-up
without tracebacks (F10), tokens kept out of the log (F9)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
import websockets

from bot.settings import DEFAULT_PLUGINS

TOKEN = "edge-token"
SECRET_IN_URL = "url-secret-7f3a9c"
HUGE = 256 << 20


@pytest.fixture
async def bot(bot_process: Any) -> Any:
    return await bot_process(
        {
            "adapters": {
                "web": {},
                "openai": {},
                "qq": {"access_token": TOKEN, "min_interval": 0},
            },
            # every default plugin: start-up must be clean with all of them
            "plugins": {name: {} for name in DEFAULT_PLUGINS},
            "server": {"allowed_hosts": ["chat.example.org"]},
        }
    )


async def _exchange(
    port: int, head: str, body_chunks: int = 0, chunk: bytes = b""
) -> tuple[bytes, int]:
    """Send ``head`` (and up to ``body_chunks`` chunks while the server lets us);
    return the response's first bytes and how many body bytes went out."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    response = asyncio.create_task(reader.read(4096))
    try:
        writer.write(head.encode())
        await writer.drain()
        for _ in range(body_chunks):
            if response.done():
                break
            try:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await asyncio.wait_for(writer.drain(), 10)
            except (ConnectionError, TimeoutError):
                break
            sent += len(chunk)
        else:
            with contextlib.suppress(ConnectionError):
                writer.write(b"0\r\n\r\n" if body_chunks else b"")
        return await asyncio.wait_for(response, 30), sent
    finally:
        response.cancel()
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


def _post(path: str, port: int, extra: str) -> str:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    )


async def test_huge_bodies_are_refused_before_they_are_read(bot: Any) -> None:
    port = bot.port
    announced = f"Content-Length: {HUGE}\r\n"
    # no body byte is sent: the answer must come from the headers alone
    reply, _ = await _exchange(port, _post("/api/auth/login", port, announced))
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    reply, _ = await _exchange(port, _post("/onebot/v11/", port, announced))
    assert reply.startswith(b"HTTP/1.1 401"), reply[:200]  # no token: before body
    reply, _ = await _exchange(
        port, _post("/wechat/mp/main", port, announced + "X-Anything: 1\r\n")
    )
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]  # before any routing

    # without Content-Length: refused while the stream comes in, not at its end
    chunked = "Transfer-Encoding: chunked\r\n"
    chunk = b"x" * (64 << 10)
    for path, extra in (
        ("/api/auth/login", ""),
        ("/onebot/v11/", f"Authorization: Bearer {TOKEN}\r\nX-Self-ID: 10001\r\n"),
    ):
        reply, sent = await _exchange(
            port, _post(path, port, chunked + extra), body_chunks=1024, chunk=chunk
        )
        assert reply.startswith(b"HTTP/1.1 413"), (path, reply[:200])
        # 64 MiB were offered; the server stopped reading after its limit (plus
        # what the sockets buffer)
        assert sent < 16 << 20, (path, sent)
    async with httpx.AsyncClient(base_url=bot.base_url) as client:
        assert (await client.get("/health")).status_code == 200


async def test_security_headers_on_every_response(bot: Any) -> None:
    async with httpx.AsyncClient(base_url=bot.base_url) as client:
        responses = [
            await client.get("/health"),
            await client.get("/api/auth/state"),
            await client.get("/no/such/page"),
            await client.post("/api/auth/login", content=b"{"),
            await client.get("/health", headers={"Host": "evil.example"}),
        ]
    for r in responses:
        csp = r.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp, (r.url, r.status_code)
        assert "default-src 'self'" in csp
        assert r.headers.get("x-frame-options") == "DENY"
        assert r.headers.get("x-content-type-options") == "nosniff"
        assert r.headers.get("referrer-policy") == "no-referrer"


async def test_only_configured_hosts_are_served(bot: Any) -> None:
    port = bot.port
    async with httpx.AsyncClient(base_url=bot.base_url) as client:
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "chat.example.org"):
            r = await client.get("/api/auth/state", headers={"Host": host})
            assert r.status_code == 200, host
        for host in ("evil.example", f"rebind.attacker.test:{port}", ""):
            r = await client.get("/api/auth/state", headers={"Host": host})
            assert r.status_code == 400, host
        # probes answer any Host (an orchestrator asks at the pod's address)
        r = await client.get("/health", headers={"Host": "10.1.2.3:8080"})
        assert r.status_code == 200
    # a rebound page's socket: Origin and Host agree, but the host is not ours
    url = f"ws://127.0.0.1:{port}/api/chat/ws"
    headers = {"Host": "evil.example", "Origin": "http://evil.example"}
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(url, additional_headers=headers)
    assert refused.value.response.status_code == 403


async def test_422_does_not_echo_what_was_sent(bot: Any) -> None:
    password = "p" * 1500 + "-do-not-echo"
    async with httpx.AsyncClient(base_url=bot.base_url) as client:
        for path, body in (
            ("/api/auth/login", {"username": "alice", "password": password}),
            (
                "/api/auth/setup",
                {"username": "root", "password": password, "token": "t"},
            ),
            ("/api/auth/login", {"username": password, "password": "x"}),
        ):
            r = await client.post(path, json=body)
            assert r.status_code == 422
            assert "do-not-echo" not in r.text
            assert r.json()["detail"][0]["loc"][0] == "body"


async def test_start_up_is_clean_and_tokens_stay_out_of_the_log(bot: Any) -> None:
    url = f"ws://127.0.0.1:{bot.port}/onebot/v11/ws?access_token={SECRET_IN_URL}"
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(url, additional_headers={"X-Self-ID": "10001"})
    await asyncio.sleep(0.5)
    log = bot.log()
    assert "/onebot/v11/ws?access_token=" in log  # the refusal is logged ...
    assert SECRET_IN_URL not in log  # ... without the token
    assert "Traceback" not in log
    assert "NameError" not in log
