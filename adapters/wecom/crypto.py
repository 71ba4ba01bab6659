"""WeCom uses the same WXBizMsgCrypt scheme as the Official Account; the receive id
is the corp id for self-built apps and the empty string for AI-bot webhooks."""

from adapters.mp.crypto import MsgCrypto as MsgCrypto
from adapters.mp.crypto import check_sign as check_sign
from adapters.mp.crypto import sign as sign
from adapters.mp.exception import CryptoError as CryptoError
from adapters.mp.exception import ReceiveIdError as ReceiveIdError

__all__ = ["CryptoError", "MsgCrypto", "ReceiveIdError", "check_sign", "sign"]
