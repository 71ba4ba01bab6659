"""HTTP callbacks: the AI bot in webhook mode (encrypted JSON, refresh streaming)
and the self-built app (encrypted XML, ``message/send``), plus hostile input."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import time

import httpx
import pytest
from fake_server import FakeWeComAPI, WeComPoster, event_callback, text_callback
from mp_harness import ChatStub, ScriptedLLM
from wechatpy.crypto import _get_signature
from wecom_setup import AES_KEY, CORP_ID, app_config, webhook_bot


def hook_poster(base_url: str) -> WeComPoster:
    return WeComPoster(base_url, "hook", "hook-token", AES_KEY, "")


def app_poster(base_url: str) -> WeComPoster:
    return WeComPoster(base_url, "app", "app-token", AES_KEY, CORP_ID)


def app_text(content: str, msg_id: str | None = None) -> dict[str, str]:
    return {
        "ToUserName": CORP_ID,
        "FromUserName": "zhangsan",
        "CreateTime": str(int(time.time())),
        "MsgType": "text",
        "Content": content,
        "MsgId": msg_id or str(secrets.randbelow(10**18)),
        "AgentID": "1000002",
    }


@pytest.mark.parametrize(("which", "receive_id"), [("hook", ""), ("app", CORP_ID)])
async def test_url_verification(make_instance, which: str, receive_id: str) -> None:
    inst = await make_instance(wecom_bots=[webhook_bot()], wecom_apps=[app_config()])
    poster = (
        hook_poster(inst.base_url) if which == "hook" else app_poster(inst.base_url)
    )
    echostr = poster.encrypt("echo-4711")
    async with httpx.AsyncClient() as client:
        start = time.monotonic()
        ok = await client.get(
            poster.url, params={**poster.signed(echostr), "echostr": echostr}
        )
        took = time.monotonic() - start
        bad = await client.get(
            poster.url,
            params={
                **poster.signed(echostr),
                "msg_signature": "0" * 40,
                "echostr": echostr,
            },
        )
    assert (ok.status_code, ok.text) == (200, "echo-4711")
    assert took < 1.0
    assert bad.status_code == 403


async def test_webhook_stream_by_refresh(
    make_instance, llm: ScriptedLLM, chat: ChatStub
) -> None:
    llm.text = "一点一点地回答这个问题。"
    llm.delay = 1.0
    inst = await make_instance(wecom_bots=[webhook_bot()])
    poster = hook_poster(inst.base_url)
    body = text_callback("你好", msgid="hook-1")
    _, resp = await poster.post(*poster.json_body(body))
    first = poster.open(resp)
    assert first["msgtype"] == "stream"
    stream_id = first["stream"]["id"]
    assert first["stream"]["finish"] is False
    contents = [first["stream"]["content"]]
    for _ in range(100):
        _, resp = await poster.post(
            *poster.json_body({"msgtype": "stream", "stream": {"id": stream_id}})
        )
        frame = poster.open(resp)
        assert frame["stream"]["id"] == stream_id
        contents.append(frame["stream"]["content"])
        if frame["stream"]["finish"]:
            break
        await asyncio.sleep(0.1)
    assert contents[-1] == llm.text
    for a, b in itertools.pairwise(contents):
        assert b.startswith(a)
    # WeCom's retry of the first callback continues the same stream
    _, resp = await poster.post(*poster.json_body(body))
    assert poster.open(resp)["stream"]["id"] == stream_id
    assert llm.calls == ["你好"]
    assert chat.contexts[0].platform == "wecom"


async def test_webhook_enter_chat_welcome(make_instance, llm: ScriptedLLM) -> None:
    inst = await make_instance(wecom_bots=[webhook_bot(welcome="欢迎")])
    poster = hook_poster(inst.base_url)
    _, resp = await poster.post(*poster.json_body(event_callback("enter_chat")))
    assert poster.open(resp) == {"msgtype": "text", "text": {"content": "欢迎"}}


async def test_app_message_answered_by_message_send(
    make_instance, llm: ScriptedLLM, wecom_api: FakeWeComAPI
) -> None:
    llm.text = "第一段。\n\n第二段。"
    inst = await make_instance(wecom_apps=[app_config()], wecom_segment_interval=0.05)
    poster = app_poster(inst.base_url)
    fields = app_text("请回答", msg_id="app-1")
    took, resp = await poster.post(*poster.xml_body(fields))
    assert resp.status_code == 200
    assert took < 1.0
    for _ in range(50):
        if len(wecom_api.sent) >= 2:
            break
        await asyncio.sleep(0.1)
    assert [m["text"]["content"] for m in wecom_api.sent] == ["第一段。", "第二段。"]
    assert all(
        m["touser"] == "zhangsan" and m["agentid"] == 1000002 for m in wecom_api.sent
    )
    # the retries (same MsgId) do nothing
    for _ in range(2):
        await poster.post(*poster.xml_body(fields))
    await asyncio.sleep(0.3)
    assert llm.calls == ["请回答"]
    assert wecom_api.token_calls == 1


async def test_app_token_refreshed_on_42001(
    make_instance, llm: ScriptedLLM, wecom_api: FakeWeComAPI
) -> None:
    inst = await make_instance(wecom_apps=[app_config()])
    poster = app_poster(inst.base_url)
    await poster.post(*poster.xml_body(app_text("one")))
    for _ in range(50):
        if wecom_api.sent:
            break
        await asyncio.sleep(0.1)
    wecom_api.expire(CORP_ID)
    await poster.post(*poster.xml_body(app_text("two")))
    for _ in range(50):
        if len(wecom_api.sent) == 2:
            break
        await asyncio.sleep(0.1)
    assert len(wecom_api.sent) == 2
    assert wecom_api.token_calls == 2


def _hostile_app(poster: WeComPoster) -> dict[str, tuple[dict[str, str], bytes]]:
    good_params, good_body = poster.xml_body(app_text("x"))
    enc_garbage = base64.b64encode(secrets.token_bytes(64)).decode()
    other_corp = WeComPoster(poster.base_url, "app", "app-token", AES_KEY, "wwOTHER")
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<xml><Encrypt>&x;</Encrypt></xml>"
    )
    laughs = b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><xml><Encrypt>&b;</Encrypt></xml>'

    def inner(xml: str) -> tuple[dict[str, str], bytes]:
        enc = poster.encrypt(xml)
        return poster.signed(
            enc
        ), f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>".encode()

    return {
        "xxe": (poster.signed("x"), xxe),
        "billion_laughs": (poster.signed("x"), laughs),
        "external_dtd": (
            poster.signed("x"),
            b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml/>',
        ),
        "empty_xml": (poster.signed("x"), b"<xml></xml>"),
        "no_params": ({}, good_body),
        "wrong_signature": ({**good_params, "msg_signature": "1" * 40}, good_body),
        "stale": (
            poster.signed("x", timestamp=str(int(time.time()) - 4000)),
            good_body,
        ),
        "bad_base64": (poster.signed("@@@"), b"<xml><Encrypt>@@@</Encrypt></xml>"),
        "garbage_cipher": (
            poster.signed(enc_garbage),
            f"<xml><Encrypt>{enc_garbage}</Encrypt></xml>".encode(),
        ),
        "wrong_corp_id": other_corp.xml_body(app_text("x")),
        "inner_empty_xml": inner("<xml></xml>"),
        "inner_xxe": inner(
            '<!DOCTYPE x [<!ENTITY e "e">]><xml><Content>&e;</Content></xml>'
        ),
        "inner_missing_fields": inner("<xml><MsgType>text</MsgType></xml>"),
        "too_large": (good_params, b"<xml>" + b"a" * 70000 + b"</xml>"),
    }


def _hostile_hook(poster: WeComPoster) -> dict[str, tuple[dict[str, str], bytes]]:
    good_params, good_body = poster.json_body(text_callback("x"))
    other = WeComPoster(poster.base_url, "hook", "hook-token", AES_KEY, "wwSOMEONE")

    def inner(text: str) -> tuple[dict[str, str], bytes]:
        enc = poster.encrypt(text)
        return poster.signed(enc), json.dumps({"encrypt": enc}).encode()

    return {
        "not_json": (good_params, b"<xml/>"),
        "empty_object": (poster.signed("x"), b"{}"),
        "wrong_signature": ({**good_params, "msg_signature": "2" * 40}, good_body),
        "wrong_receive_id": other.json_body(text_callback("x")),
        "bad_base64": (poster.signed("%%%"), b'{"encrypt": "%%%"}'),
        "inner_not_json": inner("<xml></xml>"),
        "inner_list": inner("[]"),
        "inner_missing_from": inner(json.dumps({"msgtype": "text", "msgid": "1"})),
        "inner_no_stream_id": inner(json.dumps({"msgtype": "stream", "stream": {}})),
        "deep_json": (good_params, b"{" + b'"a":[' * 5000 + b"]" * 5000 + b"}"),
    }


async def test_hostile_callbacks_are_4xx_fast(
    make_instance, llm: ScriptedLLM, wecom_api: FakeWeComAPI
) -> None:
    inst = await make_instance(wecom_bots=[webhook_bot()], wecom_apps=[app_config()])
    results = {}
    async with httpx.AsyncClient() as client:
        for poster, cases in (
            (app_poster(inst.base_url), _hostile_app(app_poster(inst.base_url))),
            (hook_poster(inst.base_url), _hostile_hook(hook_poster(inst.base_url))),
        ):
            for name, (params, body) in cases.items():
                start = time.monotonic()
                resp = await client.post(poster.url, params=params, content=body)
                results[f"{poster.name}:{name}"] = (
                    resp.status_code,
                    time.monotonic() - start,
                )
    for name, (status, took) in results.items():
        assert 400 <= status < 500, (name, status)
        assert took < 2.0, (name, took)  # refused at once, not after a timeout
    assert results["app:wrong_corp_id"][0] == 403
    assert results["hook:wrong_receive_id"][0] == 403
    assert results["app:wrong_signature"][0] == 403
    assert llm.calls == []
    assert wecom_api.sent == []


async def test_replayed_nonce_with_another_body_is_refused(
    make_instance, llm: ScriptedLLM
) -> None:
    inst = await make_instance(wecom_apps=[app_config()])
    poster = app_poster(inst.base_url)
    params, body = poster.xml_body(app_text("first"))
    enc = poster.encrypt("<xml><MsgType>text</MsgType></xml>")
    forged = {
        **params,
        "msg_signature": _get_signature(
            "app-token", params["timestamp"], params["nonce"], enc
        ),
    }
    _, r1 = await poster.post(params, body)
    _, r2 = await poster.post(forged, f"<xml><Encrypt>{enc}</Encrypt></xml>".encode())
    assert r1.status_code == 200
    assert r2.status_code == 403


@pytest.mark.parametrize("which", ["hook", "app"])
async def test_mutated_callbacks_never_500(make_instance, which: str) -> None:
    import random

    rng = random.Random(1234)
    inst = await make_instance(wecom_bots=[webhook_bot()], wecom_apps=[app_config()])
    poster = (
        hook_poster(inst.base_url) if which == "hook" else app_poster(inst.base_url)
    )
    statuses: set[int] = set()
    async with httpx.AsyncClient() as client:
        for _ in range(80):
            if which == "hook":
                params, body_bytes = poster.json_body(text_callback("fuzz"))
            else:
                params, body_bytes = poster.xml_body(app_text("fuzz"))
            body = bytearray(body_bytes)
            for _ in range(rng.randint(1, 4)):
                pos = rng.randrange(len(body))
                if rng.random() < 0.6:
                    body[pos] = rng.randrange(256)
                else:
                    body[pos:pos] = rng.choice(
                        [b"<", b"{", b"]]>", b"&", b"\x00", b'"']
                    )
            resp = await client.post(poster.url, params=params, content=bytes(body))
            statuses.add(resp.status_code)
    assert all(s < 500 for s in statuses), statuses


async def test_webhook_refreshes_on_another_instance(
    make_instance, redis_states, llm: ScriptedLLM
) -> None:
    """The stream state lives in the shared state: refreshes may land anywhere."""
    llm.text = "跨实例的流式回答。"
    llm.delay = 0.8
    a = await make_instance(state=redis_states(), wecom_bots=[webhook_bot()])
    b = await make_instance(state=redis_states(), wecom_bots=[webhook_bot()])
    pa, pb = hook_poster(a.base_url), hook_poster(b.base_url)
    body = text_callback("你好", msgid=f"x-{secrets.token_hex(4)}")
    _, resp = await pa.post(*pa.json_body(body))
    stream_id = pa.open(resp)["stream"]["id"]
    _, resp = await pb.post(*pb.json_body(body))  # WeCom's retry, other instance
    assert pb.open(resp)["stream"]["id"] == stream_id
    contents = []
    for i in range(100):
        poster = pb if i % 2 else pa
        _, resp = await poster.post(
            *poster.json_body({"msgtype": "stream", "stream": {"id": stream_id}})
        )
        frame = poster.open(resp)["stream"]
        contents.append(frame["content"])
        if frame["finish"]:
            break
        await asyncio.sleep(0.1)
    assert contents[-1] == llm.text
    for a_, b_ in itertools.pairwise(contents):
        assert b_.startswith(a_)
    assert llm.calls == ["你好"]
