"""The message crypto against wechatpy's implementation of WXBizMsgCrypt."""

from __future__ import annotations

import base64

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto

from adapters.mp.crypto import MsgCrypto, check_sign, sign
from adapters.mp.exception import CryptoError, ReceiveIdError

KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx1234567890abcdef"


def test_decrypts_what_wechatpy_encrypts() -> None:
    theirs = WeChatCrypto("tok", KEY, APPID)
    envelope = xmltodict.parse(
        theirs.encrypt_message("<xml>你好</xml>", "n1", "1700000000")
    )
    enc = envelope["xml"]["Encrypt"]
    assert check_sign(envelope["xml"]["MsgSignature"], "tok", "1700000000", "n1", enc)
    assert MsgCrypto("tok", KEY, APPID).decrypt(enc) == "<xml>你好</xml>"


def test_wechatpy_decrypts_what_we_seal() -> None:
    enc, signature, ts, nonce = MsgCrypto("tok", KEY, APPID).seal("<xml>回答</xml>")
    envelope = f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
    plain = WeChatCrypto("tok", KEY, APPID).decrypt_message(
        envelope, signature, ts, nonce
    )
    assert plain == "<xml>回答</xml>"


def test_receive_id_is_checked() -> None:
    enc = MsgCrypto("tok", KEY, "wxOTHER").encrypt("hi")
    with pytest.raises(ReceiveIdError):
        MsgCrypto("tok", KEY, APPID).decrypt(enc)


def test_empty_receive_id_round_trips() -> None:
    """WeCom's AI bot webhook encrypts with an empty receive id."""
    crypto = MsgCrypto("tok", KEY, "")
    assert crypto.decrypt(crypto.encrypt('{"a": 1}')) == '{"a": 1}'
    with pytest.raises(ReceiveIdError):
        MsgCrypto("tok", KEY, APPID).decrypt(crypto.encrypt("x"))


@pytest.mark.parametrize(
    "payload",
    [
        "not base64!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(b"x" * 33).decode(),
        base64.b64encode(bytes(64)).decode(),
        "",
    ],
)
def test_malformed_payloads_raise_crypto_error(payload: str) -> None:
    with pytest.raises(CryptoError):
        MsgCrypto("tok", KEY, APPID).decrypt(payload)


def test_bad_key_is_refused() -> None:
    with pytest.raises(CryptoError):
        MsgCrypto("tok", "short", APPID)


def test_signature_is_order_independent_and_exact() -> None:
    s = sign("tok", "1700000000", "n1")
    assert check_sign(s, "n1", "tok", "1700000000")
    assert not check_sign(s.upper(), "tok", "1700000000", "n1")
    assert not check_sign("", "tok", "1700000000", "n1")
