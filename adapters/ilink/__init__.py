"""Personal WeChat direct chats through Tencent's iLink bot API.

Log in once with ``freechat ilink login`` (QR code in the terminal), then enable
with ``adapters: {ilink: {}}``.
"""

from .adapter import Adapter
from .bot import Bot
from .config import Config
from .event import MessageEvent
from .message import Message, MessageSegment

__all__ = ["Adapter", "Bot", "Config", "Message", "MessageEvent", "MessageSegment"]
