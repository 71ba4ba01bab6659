"""Personal WeChat login from the console: the QR code comes to the browser, its
state is polled, and the token is stored (the fake iLink server on loopback)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.adapters.ilink.fake_ilink import FakeILink
from tests.webui.test_admin_api import PASSWORD, sign_in


async def test_ilink_login_in_the_browser(bot_process: Any) -> None:
    fake = await FakeILink().start()
    try:
        bp = await bot_process(
            {"adapters": {"ilink": {"base_url": fake.base_url}},
             "plugins": {"chat": {}}}
        )  # fmt: skip
        bp.cli("user", "add", "root", "--role", "admin", input=PASSWORD + "\n")
        admin = await sign_in(bp.base_url, "root")
        try:
            idle = (await admin.get("/api/admin/adapters/ilink/login")).json()
            assert idle["state"] == "idle"
            assert (
                await admin.get("/api/admin/adapters/ilink/qr.svg")
            ).status_code == 404
            started = (await admin.post("/api/admin/adapters/ilink/login")).json()
            assert started["state"] in ("waiting", "scanned")
            assert started["url"] == "https://liteapp.weixin.qq.com/q/qr-123"
            svg = await admin.get("/api/admin/adapters/ilink/qr.svg")
            assert svg.headers["content-type"] == "image/svg+xml"
            assert svg.text.lstrip().startswith("<?xml")
            assert "<svg" in svg.text
            seen = {started["state"]}
            for _ in range(200):
                state = (await admin.get("/api/admin/adapters/ilink/login")).json()
                seen.add(state["state"])
                if state["state"] in ("confirmed", "failed"):
                    break
                await asyncio.sleep(0.1)
            assert state["state"] == "confirmed", state
            assert "bot123@im.bot" in state["message"]
            assert "scanned" in seen
            audit = (await admin.get("/api/admin/audit")).json()["items"]
            assert audit[0]["action"] == "ilink.login"
        finally:
            await admin.aclose()
    finally:
        await fake.stop()
