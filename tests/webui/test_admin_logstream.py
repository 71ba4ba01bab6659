"""The console's live log socket in a running bot: admins only, same origin only,
redacted lines streamed as they are logged, closed when the session signs out."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from tests.plugins.scheduler.test_schedules_api import PASSWORD, signed_in

SECRET = "tok-7Hq2ZpX9"


def socket(bp: Any, client: httpx.AsyncClient | None, origin: str | None = None) -> Any:
    headers = {"Origin": origin or bp.base_url}
    if client is not None:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    url = bp.base_url.replace("http://", "ws://") + "/api/admin/logs/ws?lines=50"
    return websockets.connect(url, additional_headers=headers)


async def closed_with(bp: Any, client: httpx.AsyncClient | None) -> int:
    async with socket(bp, client) as ws:
        with pytest.raises(websockets.ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd is not None
    return int(info.value.rcvd.code)


async def _until_closed(ws: Any) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), 20)


async def test_live_log_for_admins_only(bot_process: Any) -> None:
    bp = await bot_process({"plugins": {"chat": {}}})
    await asyncio.to_thread(
        bp.cli, "user", "add", "root", "--role", "admin", input=PASSWORD + "\n"
    )
    await asyncio.to_thread(
        bp.cli, "user", "add", "op", "--role", "operator", input=PASSWORD + "\n"
    )
    admin = await signed_in(bp, "root")
    operator = await signed_in(bp, "op")
    try:
        assert await closed_with(bp, None) == 4401
        assert await closed_with(bp, operator) == 4403
        with pytest.raises(websockets.InvalidStatus) as refused:
            await socket(bp, admin, origin="http://evil.example").__aenter__()
        assert refused.value.response.status_code == 403

        async with socket(bp, admin) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert isinstance(first["lines"], list)
            assert len(first["lines"]) <= 50
            await ws.send(b"\x00" * 4096)  # what the page sends is ignored
            await ws.send("\ud800".encode("utf-8", "surrogatepass"))
            await ws.send("hello")
            # a refused socket's URL is logged by the server, token and all
            probe = bp.base_url.replace("http://", "ws://")
            with pytest.raises(websockets.InvalidStatus):
                await websockets.connect(f"{probe}/nowhere/ws?access_token={SECRET}")
            seen: list[str] = []
            while not any("/nowhere/ws" in line for line in seen):
                frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
                seen += frame["lines"]
            assert not [line for line in seen if SECRET in line]
            assert any("access_token=***" in line for line in seen)
            # the plain list is redacted as well
            listed = (await admin.get("/api/admin/logs?lines=2000")).json()["lines"]
            assert any("/nowhere/ws" in line for line in listed)
            assert not [line for line in listed if SECRET in line]

            assert (await admin.post("/api/auth/logout")).status_code == 204
            with pytest.raises(websockets.ConnectionClosed) as ended:
                await _until_closed(ws)
            assert ended.value.rcvd is not None
            assert ended.value.rcvd.code == 4401
    finally:
        await admin.aclose()
        await operator.aclose()
