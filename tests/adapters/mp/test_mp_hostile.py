"""Hostile callbacks: refused with a 4xx fast, never a 500, no model call, memory flat.

Every case carries a valid signature/timestamp/fresh nonce unless the case is about
them, so the refusal comes from the check named in the case."""

from __future__ import annotations

import base64
import gc
import secrets
import time
import tracemalloc
from collections.abc import Callable

import httpx
import pytest
from fake_wechat import Account, Delivery, WeChatPoster, sign, text_message, to_xml
from mp_harness import ScriptedLLM

XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>"
    "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content>"
    "<MsgId>1</MsgId></xml>"
)
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]><xml><Content>&lol9;</Content></xml>"
)
EXTERNAL_DTD = (
    '<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd">'
    "<xml><MsgType>text</MsgType></xml>"
)
# the same entity trick, hidden in lower case and spacing
SNEAKY = '<!doctype  xml [<!entity a "b">]><xml><A>&a;</A></xml>'


def _with_body(poster: WeChatPoster, body: bytes) -> Delivery:
    d = poster.delivery(text_message("x"))
    return Delivery(d.params, body)


def _fields(drop: str) -> bytes:
    f = text_message("hi")
    del f[drop]
    return to_xml(f).encode()


CASES: dict[str, Callable[[WeChatPoster], Delivery]] = {
    "xxe": lambda p: _with_body(p, XXE.encode()),
    "billion_laughs": lambda p: _with_body(p, LAUGHS.encode()),
    "external_dtd": lambda p: _with_body(p, EXTERNAL_DTD.encode()),
    "sneaky_doctype": lambda p: _with_body(p, SNEAKY.encode()),
    "empty_xml": lambda p: _with_body(p, b"<xml></xml>"),
    "empty_body": lambda p: _with_body(p, b""),
    "not_xml": lambda p: _with_body(p, b"hello"),
    "broken_xml": lambda p: _with_body(p, b"<xml><A>1</xml>"),
    "nested_field": lambda p: _with_body(
        p,
        b"<xml><ToUserName><a>1</a></ToUserName><FromUserName>o</FromUserName>"
        b"<CreateTime>1</CreateTime><MsgType>text</MsgType><MsgId>1</MsgId></xml>",
    ),
    "json_list": lambda p: _with_body(p, b"[1, 2]"),
    "json_deep": lambda p: _with_body(p, b"{" + b'"a":[' * 5000 + b"]" * 5000 + b"}"),
    "not_utf8": lambda p: _with_body(p, b"<xml>\xff\xfe</xml>"),
    "missing_msgid": lambda p: _with_body(p, _fields("MsgId")),
    "missing_from": lambda p: _with_body(p, _fields("FromUserName")),
    "missing_msgtype": lambda p: _with_body(p, _fields("MsgType")),
    "bad_create_time": lambda p: _with_body(
        p, to_xml({**text_message("x"), "CreateTime": "soon"}).encode()
    ),
    "too_large": lambda p: _with_body(p, b"<xml>" + b"a" * 70_000 + b"</xml>"),
    "no_signature": lambda p: Delivery(
        {
            k: v
            for k, v in p.delivery(text_message("x")).params.items()
            if k != "signature"
        },
        to_xml(text_message("x")).encode(),
    ),
    "wrong_signature": lambda p: Delivery(
        {**p.delivery(text_message("x")).params, "signature": "f" * 40},
        to_xml(text_message("x")).encode(),
    ),
    "truncated_signature": lambda p: Delivery(
        {
            **p.delivery(text_message("x")).params,
            "signature": p.delivery(text_message("x")).params["signature"][:20],
        },
        to_xml(text_message("x")).encode(),
    ),
    "stale_timestamp": lambda p: p.delivery(
        text_message("x"), timestamp=str(int(time.time()) - 3600)
    ),
    "future_timestamp": lambda p: p.delivery(
        text_message("x"), timestamp=str(int(time.time()) + 3600)
    ),
}


def _safe_cases() -> dict[str, Callable[[WeChatPoster], Delivery]]:
    def tamper(d: Delivery, body: bytes, **params: str) -> Delivery:
        return Delivery({**d.params, **params}, body)

    def bad_b64(p: WeChatPoster) -> Delivery:
        d = p.delivery(text_message("x"))
        ts, nonce = d.params["timestamp"], d.params["nonce"]
        enc = "!!not-base64!!"
        body = to_xml({"ToUserName": "gh", "Encrypt": enc}).encode()
        return tamper(d, body, msg_signature=sign(p.account.token, ts, nonce, enc))

    def bad_blocks(p: WeChatPoster) -> Delivery:
        d = p.delivery(text_message("x"))
        ts, nonce = d.params["timestamp"], d.params["nonce"]
        enc = base64.b64encode(secrets.token_bytes(37)).decode()
        body = to_xml({"ToUserName": "gh", "Encrypt": enc}).encode()
        return tamper(d, body, msg_signature=sign(p.account.token, ts, nonce, enc))

    def garbage_cipher(p: WeChatPoster) -> Delivery:
        d = p.delivery(text_message("x"))
        ts, nonce = d.params["timestamp"], d.params["nonce"]
        enc = base64.b64encode(secrets.token_bytes(64)).decode()
        body = to_xml({"ToUserName": "gh", "Encrypt": enc}).encode()
        return tamper(d, body, msg_signature=sign(p.account.token, ts, nonce, enc))

    def wrong_appid(p: WeChatPoster) -> Delivery:
        other = WeChatPoster(
            p.base_url, Account(app_id="wxOTHER000000000"), encrypted=True
        )
        return other.delivery(text_message("x"))

    def wrong_msg_signature(p: WeChatPoster) -> Delivery:
        d = p.delivery(text_message("x"))
        return Delivery({**d.params, "msg_signature": "0" * 40}, d.body)

    def missing_encrypt(p: WeChatPoster) -> Delivery:
        d = p.delivery(text_message("x"))
        return Delivery(d.params, to_xml({"ToUserName": "gh"}).encode())

    def encrypted_empty_xml(p: WeChatPoster) -> Delivery:
        d = p.delivery(text_message("x"))
        ts, nonce = d.params["timestamp"], d.params["nonce"]
        from wechatpy.crypto import PrpCrypto

        key = base64.b64decode(p.account.encoding_aes_key + "=")
        enc = PrpCrypto(key).encrypt("<xml></xml>", p.account.app_id).decode()
        body = to_xml({"ToUserName": "gh", "Encrypt": enc}).encode()
        return tamper(d, body, msg_signature=sign(p.account.token, ts, nonce, enc))

    return {
        "bad_base64": bad_b64,
        "bad_blocks": bad_blocks,
        "garbage_cipher": garbage_cipher,
        "wrong_receive_id": wrong_appid,
        "wrong_msg_signature": wrong_msg_signature,
        "missing_encrypt": missing_encrypt,
        "encrypted_empty_xml": encrypted_empty_xml,
    }


async def _run_cases(
    poster: WeChatPoster, cases: dict[str, Callable[[WeChatPoster], Delivery]]
) -> dict[str, tuple[int, float]]:
    out: dict[str, tuple[int, float]] = {}
    async with httpx.AsyncClient() as client:
        for name, make in cases.items():
            d = make(poster)
            start = time.monotonic()
            resp = await client.post(poster.url, params=d.params, content=d.body)
            out[name] = (resp.status_code, time.monotonic() - start)
    return out


def _assert_refused(results: dict[str, tuple[int, float]]) -> None:
    for name, (status, took) in results.items():
        assert 400 <= status < 500, (name, status)
        # 100 ms is the target (bench); shared CI machines get slack here
        assert took < 0.5, (name, took)


async def test_hostile_plaintext_callbacks(make_instance, llm: ScriptedLLM) -> None:
    inst = await make_instance()
    poster = WeChatPoster(inst.base_url, Account())
    results = await _run_cases(poster, CASES)
    _assert_refused(results)
    assert results["wrong_signature"][0] == 403
    assert results["stale_timestamp"][0] == 403
    assert results["xxe"][0] == 400
    assert llm.calls == []


async def test_hostile_safe_mode_callbacks(make_instance, llm: ScriptedLLM) -> None:
    account = Account(mode="safe")
    inst = await make_instance(account)
    poster = WeChatPoster(inst.base_url, account, encrypted=True)
    results = await _run_cases(poster, {**CASES, **_safe_cases()})
    _assert_refused(results)
    assert results["wrong_receive_id"][0] == 403
    assert results["wrong_msg_signature"][0] == 403
    assert results["bad_base64"][0] == 400
    assert llm.calls == []


async def test_reused_nonce_with_another_body_is_refused(
    make_instance, llm: ScriptedLLM
) -> None:
    inst = await make_instance()
    poster = WeChatPoster(inst.base_url, Account())
    first = poster.delivery(text_message("one", msg_id="1001"))
    _, r1 = await poster.post(first)
    # a replay of the signed query with a swapped body (the body is not signed)
    _, r2 = await poster.post(
        Delivery(first.params, to_xml(text_message("two")).encode())
    )
    # the very same delivery again (a retry, should WeChat reuse the nonce): accepted
    _, r3 = await poster.post(first)
    assert r1.status_code == 200
    assert r2.status_code == 403
    assert r3.status_code == 200
    assert llm.calls == ["one"]


@pytest.mark.parametrize("mode", ["plaintext", "safe"])
async def test_memory_stays_flat_under_hostile_input(
    make_instance, llm: ScriptedLLM, mode: str
) -> None:
    account = Account(mode=mode)
    inst = await make_instance(account)
    poster = WeChatPoster(inst.base_url, account, encrypted=mode == "safe")
    cases = {**CASES, **(_safe_cases() if mode == "safe" else {})}
    await _run_cases(poster, cases)  # warm up caches and lazy imports
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            results = await _run_cases(poster, cases)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    _assert_refused(results)
    # nonce claims are the only thing kept (bounded by the timestamp window)
    assert after - before < 3_000_000, after - before
    assert llm.calls == []


@pytest.mark.parametrize(("mode", "fmt"), [("plaintext", "xml"), ("safe", "json")])
async def test_mutated_callbacks_never_500(
    make_instance, llm: ScriptedLLM, mode: str, fmt: str
) -> None:
    """Random byte flips, truncations and insertions of valid callbacks."""
    import random

    rng = random.Random(4711)
    account = Account(mode=mode)
    inst = await make_instance(account)
    poster = WeChatPoster(inst.base_url, account, encrypted=mode == "safe", fmt=fmt)
    statuses: set[int] = set()
    async with httpx.AsyncClient() as client:
        for _ in range(80):
            d = poster.delivery(text_message("fuzz"))
            body = bytearray(d.body)
            for _ in range(rng.randint(1, 4)):
                op = rng.random()
                pos = rng.randrange(len(body))
                if op < 0.5:
                    body[pos] = rng.randrange(256)
                elif op < 0.75:
                    del body[pos:]
                    body += b"x"
                else:
                    body[pos:pos] = rng.choice(
                        [b"<", b"{", b"]]>", b"&", b"\x00", b'"']
                    )
            resp = await client.post(poster.url, params=d.params, content=bytes(body))
            statuses.add(resp.status_code)
    assert all(s < 500 for s in statuses), statuses
