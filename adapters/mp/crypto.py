"""WeChat's message crypto (WXBizMsgCrypt), shared by the Official Account and WeCom.

AES-256-CBC, key = b64decode(EncodingAESKey + "="), IV = key[:16], PKCS#7 to 32-byte
blocks; plaintext = random(16) | uint32be(len) | message | receive id. Signatures are
``sha1(sorted(parts))``, compared in constant time. wechatpy supplies the cipher and the
encryption; decryption is done here because wechatpy's does not validate padding or
lengths and compares the receive id with ``!=``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import time

from wechatpy.crypto import PrpCrypto
from wechatpy.crypto.base import WeChatCipher

from .exception import CryptoError, ReceiveIdError


def sign(*parts: str) -> str:
    """``sha1`` of the sorted, concatenated parts (WeChat's callback signature)."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def check_sign(given: str, *parts: str) -> bool:
    """True when ``given`` is the signature of ``parts`` (constant-time)."""
    return hmac.compare_digest(given.encode(), sign(*parts).encode())


class MsgCrypto:
    """Encrypts and decrypts payloads for one receiver (AppID, corp id or "")."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error as exc:
            raise CryptoError("encoding_aes_key is not base64") from exc
        if len(key) != 32:
            raise CryptoError("encoding_aes_key must decode to 32 bytes")
        self.token = token
        self.key = key
        self.receive_id = receive_id

    def decrypt(self, encrypted: str) -> str:
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CryptoError("payload is not base64") from exc
        if not raw or len(raw) % 16:
            raise CryptoError("payload is not whole AES blocks")
        plain: bytes = WeChatCipher(self.key).decrypt(raw)
        pad = plain[-1]
        if not 1 <= pad <= 32 or plain[-pad:] != bytes([pad]) * pad:
            raise CryptoError("bad padding")
        content = plain[16:-pad]
        if len(content) < 4:
            raise CryptoError("payload too short")
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise CryptoError("bad length")
        try:
            message = content[4 : 4 + length].decode("utf-8")
            receive_id = content[4 + length :].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CryptoError("payload is not UTF-8") from exc
        if not hmac.compare_digest(receive_id.encode(), self.receive_id.encode()):
            raise ReceiveIdError("payload is for another receiver")
        return message

    def encrypt(self, message: str) -> str:
        out: bytes = PrpCrypto(self.key).encrypt(message, self.receive_id)
        text: str = out.decode()
        return text

    def seal(self, message: str) -> tuple[str, str, str, str]:
        """Encrypt ``message`` for a reply: ``(encrypt, signature, timestamp, nonce)``."""
        encrypted = self.encrypt(message)
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(8)
        return (
            encrypted,
            sign(self.token, timestamp, nonce, encrypted),
            timestamp,
            nonce,
        )
