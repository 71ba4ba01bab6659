"""Secrets kept at rest encrypted with a key of this instance: AES-GCM under a key
derived (HKDF-SHA256) from the instance's secret (:func:`bot.auth.core.signing_key`:
``auth.jwt_secret`` or the generated ``secret.key``), one key per ``purpose``, the
purpose also bound as associated data. A sealed value reads
``sealed:v1:<base64url(nonce | ciphertext)>``; anything else is an old plain value.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.settings import Settings

from .core import signing_key
from .exceptions import AuthError

PREFIX = "sealed:v1:"
NONCE = 12


class SealError(AuthError):
    """A sealed value that this instance's key does not open."""


def _key(settings: Settings, purpose: str) -> AESGCM:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"freechat sealed v1",
        info=purpose.encode(),
    )
    return AESGCM(hkdf.derive(signing_key(settings).encode()))


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def seal(settings: Settings, purpose: str, plain: str) -> str:
    nonce = os.urandom(NONCE)
    # any str round-trips, a lone surrogate (from a JSON escape) included
    text = plain.encode("utf-8", "surrogatepass")
    data = _key(settings, purpose).encrypt(nonce, text, purpose.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + data).decode()


def unseal(settings: Settings, purpose: str, value: str) -> str:
    """The plain text of ``value``; :class:`SealError` when it does not open (another
    instance secret, a changed value)."""
    if not is_sealed(value):
        raise SealError("not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(value[len(PREFIX) :].encode())
        plain = _key(settings, purpose).decrypt(
            raw[:NONCE], raw[NONCE:], purpose.encode()
        )
        return plain.decode("utf-8", "surrogatepass")
    except (InvalidTag, ValueError, binascii.Error):  # UnicodeError is a ValueError
        raise SealError(
            "a sealed value does not open with this instance's secret"
        ) from None
