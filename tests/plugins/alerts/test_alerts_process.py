"""Alerts in a whole bot process: the NapCat-like client's connection is killed;
after ``alerts.after`` the superuser on WeCom (a self-built app, against the fake
WeCom API) gets exactly one alert, and one recovery notice when it reconnects."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.adapters.qq.adapter_harness import eventually
from tests.adapters.qq.napcat import NapCat
from tests.adapters.wecom.fake_server import FakeWeComAPI

TOKEN = "alerts-token"
CORP, SECRET = "ww-alerts-corp", "alerts-secret"


def wecom_app(base_url: str) -> dict[str, Any]:
    return {
        "api_base": base_url,
        "apps": [
            {
                "name": "ops",
                "corp_id": CORP,
                "agent_id": 1000002,
                "secret": SECRET,
                "token": "app-token",
                "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            }
        ],
    }


async def test_one_alert_and_one_recovery_on_wecom(bot_process: Any) -> None:
    api = await FakeWeComAPI({CORP: SECRET}).start()
    try:
        from bot.settings import DEFAULT_PLUGINS

        plugins: dict[str, Any] = {name: {} for name in DEFAULT_PLUGINS}
        plugins["alerts"] = {"after": 1.5, "targets": ["wecom:app:ops:user:boss"]}
        bp = await bot_process(
            {
                "adapters": {
                    "qq": {"access_token": TOKEN},
                    "wecom": wecom_app(api.base_url),
                },
                "superusers": ["qq:12345"],
                "plugins": plugins,
            }
        )
        url = f"ws://127.0.0.1:{bp.port}/onebot/v11/ws"
        peer = await NapCat(url, 10001, TOKEN).connect()
        await asyncio.sleep(1.0)
        await peer.close()  # the connection is gone

        def texts() -> list[str]:
            return [m["text"]["content"] for m in api.sent if m["touser"] == "boss"]

        await eventually(lambda: len(texts()) >= 1, 30)
        await asyncio.sleep(4.0)  # no second alert for the same incident
        (alert,) = texts()
        assert "QQ 10001" in alert
        assert "已断开超过 1.5 秒" in alert
        assert "has been down for more than 1.5 s" in alert

        peer = await NapCat(url, 10001, TOKEN).connect()
        try:
            await eventually(lambda: len(texts()) >= 2, 30)
            await asyncio.sleep(3.0)
            assert len(texts()) == 2
            assert "QQ 10001 is back" in texts()[1]
            # QQ works again: the superuser on QQ hears of the recovery too
            notices = [c for c in peer.calls if c["action"] == "send_private_msg"]
            assert [c["params"]["user_id"] for c in notices] == [12345]
        finally:
            await peer.close()
    finally:
        await api.stop()
