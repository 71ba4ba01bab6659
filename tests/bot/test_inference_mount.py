"""The embedded model endpoint answers this machine only (issue 11, F4): the bot's
own calls and loopback callers pass; a caller from another address, or a request a
proxy forwarded, gets 403 and never reaches the model."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

BODY = {
    "model": "any",
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 4,
}


def _outside_address() -> str | None:
    """This machine's address on its network (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
        except OSError:
            return None
        address = str(s.getsockname()[0])
    return None if address.startswith("127.") else address


async def test_embedded_endpoint_refuses_callers_off_this_machine(
    bot_process: Any, demo_model_path: Path
) -> None:
    bp = await bot_process(
        {
            "llm": {"base_url": "", "model": ""},
            "inference": {
                "enabled": True,
                "model": str(demo_model_path),
                "demo_model_dir": str(demo_model_path),
            },
            "plugins": {"chat": {}},
        },
        start_timeout=180,
    )
    url = "/inference/v1/chat/completions"
    async with httpx.AsyncClient(base_url=bp.base_url, timeout=60) as client:
        assert (await client.post(url, json=BODY)).status_code == 200
        proxied = await client.post(
            url, json=BODY, headers={"X-Forwarded-For": "203.0.113.7"}
        )
        assert proxied.status_code == 403
        assert (await client.get("/inference/v1/models")).status_code == 200
    outside = _outside_address()
    if outside is None:
        pytest.skip("no non-loopback address on this machine")
    # a socket from the machine's network address to 127.0.0.1: the server sees a
    # caller that is not loopback, as it would see another host
    transport = httpx.AsyncHTTPTransport(local_address=outside)
    async with httpx.AsyncClient(
        base_url=bp.base_url, transport=transport, timeout=60
    ) as client:
        assert (await client.post(url, json=BODY)).status_code == 403
        assert (await client.get("/inference/v1/models")).status_code == 403
        assert (await client.get("/health")).status_code == 200
