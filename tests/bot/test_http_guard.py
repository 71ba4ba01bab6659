"""``bot.http_guard`` as an ASGI peer sees it: callers from other addresses, the
server's own address, forwarded requests, and the Host names that are allowed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.http_guard import HttpGuard, allowed_host_names, loopback_only
from bot.settings import Settings


async def _echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


@pytest.fixture
def app() -> Iterator[HttpGuard]:
    dispose = loopback_only("/inference")
    inner = Starlette(
        routes=[
            Route("/inference/x", _echo, methods=["POST"]),
            Route("/y", _echo, methods=["POST"]),
        ]
    )
    settings = Settings(server={"host": "0.0.0.0", "allowed_hosts": ["10.0.0.1"]})
    yield HttpGuard(inner, settings)
    dispose()


async def _status(
    app: HttpGuard, client: str, url: str, headers: dict[str, str] | None = None
) -> int:
    transport = httpx.ASGITransport(app=app, client=(client, 4000))
    async with httpx.AsyncClient(transport=transport) as c:
        return (await c.post(url, content=b"{}", headers=headers)).status_code


async def test_loopback_only_paths(app: HttpGuard) -> None:
    assert await _status(app, "127.0.0.1", "http://127.0.0.1/inference/x") == 200
    assert await _status(app, "::1", "http://localhost/inference/x") == 200
    assert await _status(app, "203.0.113.5", "http://127.0.0.1/inference/x") == 403
    # the bot calling itself at its own non-loopback address
    assert await _status(app, "10.0.0.1", "http://10.0.0.1/inference/x") == 200
    forwarded = {"X-Forwarded-For": "203.0.113.5"}
    url = "http://127.0.0.1/inference/x"
    assert await _status(app, "127.0.0.1", url, headers=forwarded) == 403
    # other paths are not restricted
    assert await _status(app, "203.0.113.5", "http://127.0.0.1/y") == 200


def test_allowed_host_names() -> None:
    names = allowed_host_names("0.0.0.0", "https://chat.example.org/app", ["Other:81"])
    assert names is not None
    assert {"localhost", "127.0.0.1", "::1", "chat.example.org", "other"} <= names
    assert "0.0.0.0" not in names
    assert allowed_host_names("127.0.0.1", None, ["*"]) is None
