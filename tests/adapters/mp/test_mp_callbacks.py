"""The Official Account callback end to end: verify, plaintext, compatible and safe
mode, XML and JSON bodies, the passive window and the customer-service fallback."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fake_wechat import Account, FakeWeChatAPI, WeChatPoster, sign, text_message
from mp_harness import ChatStub, ScriptedLLM


async def test_url_verification_echoes(make_instance) -> None:
    inst = await make_instance()
    poster = WeChatPoster(inst.base_url, Account())
    params = poster.delivery(text_message("x")).params
    async with httpx.AsyncClient() as client:
        ok = await client.get(poster.url, params={**params, "echostr": "e-123"})
        bad = await client.get(
            poster.url, params={**params, "signature": "0" * 40, "echostr": "e"}
        )
    assert (ok.status_code, ok.text) == (200, "e-123")
    assert bad.status_code == 403


@pytest.mark.parametrize(
    ("mode", "encrypted", "fmt"),
    [
        ("plaintext", False, "xml"),
        ("plaintext", False, "json"),
        ("compatible", False, "xml"),
        ("compatible", True, "xml"),
        ("safe", True, "xml"),
        ("safe", True, "json"),
    ],
)
async def test_fast_answer_is_the_passive_reply(
    make_instance,
    llm: ScriptedLLM,
    chat: ChatStub,
    wechat_api: FakeWeChatAPI,
    mode: str,
    encrypted: bool,
    fmt: str,
) -> None:
    account = Account(mode=mode)
    inst = await make_instance(account)
    poster = WeChatPoster(inst.base_url, account, encrypted=encrypted, fmt=fmt)
    took, resp = await poster.post(poster.delivery(text_message("你好", openid="oA")))
    assert resp.status_code == 200, resp.text
    reply = poster.open_reply(resp)
    assert reply is not None, resp.text
    assert reply["Content"] == llm.text
    assert reply["ToUserName"] == "oA"
    assert reply["FromUserName"] == "gh_0123456789ab"
    assert reply["MsgType"] == "text"
    assert llm.calls == ["你好"]
    assert chat.contexts[0].platform == "mp"
    assert chat.contexts[0].user_id == "oA"
    assert took < 4.5
    await asyncio.sleep(0.3)
    assert wechat_api.sent == []  # answered once, passively


async def test_safe_mode_refuses_plaintext(make_instance, llm: ScriptedLLM) -> None:
    account = Account(mode="safe")
    inst = await make_instance(account)
    poster = WeChatPoster(inst.base_url, account, encrypted=False)
    _, resp = await poster.post(poster.delivery(text_message("hi")))
    assert resp.status_code == 403
    assert llm.calls == []


async def test_slow_answer_goes_through_customer_service(
    make_instance, llm: ScriptedLLM, wechat_api: FakeWeChatAPI
) -> None:
    llm.delay = 6.0
    llm.text = "慢慢来的回答。" * 3
    inst = await make_instance(mp_passive_timeout=1.0)
    poster = WeChatPoster(inst.base_url, Account())
    took, resp = await poster.post(poster.delivery(text_message("慢", openid="oSlow")))
    assert (resp.status_code, resp.text) == (200, "success")
    assert took < 2.0
    for _ in range(100):
        if wechat_api.sent:
            break
        await asyncio.sleep(0.1)
    assert [m["text"]["content"] for m in wechat_api.sent] == [llm.text]
    assert wechat_api.sent[0]["touser"] == "oSlow"
    assert len(wechat_api.token_calls) == 1


async def test_long_answer_is_split_to_the_limit(
    make_instance, llm: ScriptedLLM, wechat_api: FakeWeChatAPI
) -> None:
    llm.text = "".join(f"第{i}句话说了一些内容。" for i in range(60))
    inst = await make_instance(mp_max_chars=100)
    poster = WeChatPoster(inst.base_url, Account())
    _, resp = await poster.post(poster.delivery(text_message("长")))
    reply = poster.open_reply(resp)
    assert reply is not None
    for _ in range(50):
        await asyncio.sleep(0.1)
        if (
            sum(len(m["text"]["content"]) for m in wechat_api.sent)
            + len(reply["Content"])
            >= len(llm.text) - 10
        ):
            break
    pieces = [reply["Content"]] + [m["text"]["content"] for m in wechat_api.sent]
    assert all(len(p) <= 100 for p in pieces)
    assert len(pieces) >= 7
    assert "".join(pieces) == llm.text


async def test_quota_error_is_reported_not_retried(
    make_instance, llm: ScriptedLLM, wechat_api: FakeWeChatAPI, caplog
) -> None:
    llm.delay = 2.0
    wechat_api.errors = [45047]
    inst = await make_instance(mp_passive_timeout=0.5)
    poster = WeChatPoster(inst.base_url, Account())
    await poster.post(poster.delivery(text_message("q")))
    for _ in range(60):
        if wechat_api.send_calls:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    assert wechat_api.send_calls == 1
    assert wechat_api.sent == []
    assert any("45047" in r.getMessage() for r in caplog.records)


async def test_stale_token_is_refreshed_once(
    make_instance, llm: ScriptedLLM, wechat_api: FakeWeChatAPI
) -> None:
    llm.delay = 1.0
    inst = await make_instance(mp_passive_timeout=0.3)
    poster = WeChatPoster(inst.base_url, Account())
    await poster.post(poster.delivery(text_message("one")))
    for _ in range(50):
        if wechat_api.sent:
            break
        await asyncio.sleep(0.1)
    wechat_api.expire(Account().app_id)  # the cached token is now invalid
    await poster.post(poster.delivery(text_message("two")))
    for _ in range(50):
        if len(wechat_api.sent) == 2:
            break
        await asyncio.sleep(0.1)
    assert len(wechat_api.sent) == 2
    assert len(wechat_api.token_calls) == 2


async def test_subscribe_gets_the_welcome(make_instance, llm: ScriptedLLM) -> None:
    account = Account()
    inst = await make_instance(
        account, mp_accounts=[account.config(welcome="欢迎关注！")]
    )
    poster = WeChatPoster(inst.base_url, account)
    fields = text_message("")
    fields.update(MsgType="event", Event="subscribe")
    del fields["Content"], fields["MsgId"]
    _, resp = await poster.post(poster.delivery(fields))
    reply = poster.open_reply(resp)
    assert reply is not None
    assert reply["Content"] == "欢迎关注！"
    assert llm.calls == []


def test_signature_matches_wechat_example() -> None:
    # sha1 of the sorted concatenation, as in WeChat's documentation
    assert sign("b", "a", "c") == sign("a", "b", "c")


async def test_tokens_never_reach_the_logs(
    make_instance, llm: ScriptedLLM, wechat_api: FakeWeChatAPI, caplog
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    llm.delay = 1.0
    inst = await make_instance(mp_passive_timeout=0.3)
    poster = WeChatPoster(inst.base_url, Account())
    await poster.post(poster.delivery(text_message("log me")))
    for _ in range(50):
        if wechat_api.sent:
            break
        await asyncio.sleep(0.1)
    token = next(iter(wechat_api.tokens.values()))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "custom/send" in text  # the request was logged ...
    assert token not in text  # ... without its token
    assert Account().app_secret not in text
