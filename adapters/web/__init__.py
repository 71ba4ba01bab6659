"""The web chat adapter: the browser's WebSocket at ``/api/chat/ws``.

See ``PROTOCOL.md`` beside this file for the frames.
"""

from .adapter import Adapter
from .bot import Bot
from .event import WebMessageEvent

__all__ = ["Adapter", "Bot", "WebMessageEvent"]
