"""Proactive sends to Official Account followers against the fake WeChat API: sent
by the customer-service API; outside the 48-hour window (45015) or over the quota
(45047) refused with the code, and never retried."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fake_wechat import Account, FakeWeChatAPI
from mp_harness import BotInstance

from adapters.mp import Adapter
from bot import send as sending
from bot.runtime import Runtime
from bot.send import SendError, SendRefused
from tests.bot.send_harness import send_runtime

__all__ = ["send_runtime"]


@pytest.fixture
async def instance(
    wechat_api: FakeWeChatAPI, send_runtime: Runtime
) -> AsyncIterator[BotInstance]:
    config = {"mp_accounts": [Account().config()], "mp_api_base": wechat_api.base_url}
    bot = await BotInstance(Adapter, config, send_runtime.state).start()
    yield bot
    await bot.stop()


async def test_sent_by_the_customer_service_api(
    instance: BotInstance, wechat_api: FakeWeChatAPI
) -> None:
    await sending.send("mp:demo:user:o-user-1", "订阅提醒")
    assert [(m["touser"], m["text"]["content"]) for m in wechat_api.sent] == [
        ("o-user-1", "订阅提醒")
    ]


@pytest.mark.parametrize("code", [45015, 45047])
async def test_outside_the_window_is_refused_not_retried(
    instance: BotInstance, wechat_api: FakeWeChatAPI, code: int
) -> None:
    wechat_api.errors = [code]
    with pytest.raises(SendRefused, match=f"errcode {code}"):
        await sending.send("mp:demo:user:o-user-1", "too late")
    assert wechat_api.send_calls == 1
    assert wechat_api.sent == []


async def test_unknown_account(instance: BotInstance) -> None:
    with pytest.raises(SendRefused, match="no Official Account named 'other'"):
        await sending.send("mp:other:user:o1", "x")


async def test_token_refresh_failure_is_reported_then_its_recovery(
    instance: BotInstance, wechat_api: FakeWeChatAPI
) -> None:
    from bot import health

    reports: list[tuple[str, str, bool]] = []
    dispose = health.watch(lambda c, p, ok, why: reports.append((c, p, ok)))
    app_id = Account().app_id
    try:
        wechat_api.app_secrets[app_id] = "rotated-elsewhere"
        with pytest.raises(SendError, match="40125"):
            await sending.send("mp:demo:user:o-user-1", "x")
        wechat_api.app_secrets[app_id] = Account().app_secret
        await sending.send("mp:demo:user:o-user-1", "y")
    finally:
        dispose()
    assert reports == [("mp demo token", "mp", False), ("mp demo token", "mp", True)]
