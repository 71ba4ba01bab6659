"""QQ through OneBot v11 (NapCat), hardened.

Enable with ``adapters: {qq: {access_token: ...}}``; NapCat dials
``ws://<host>:<port>/onebot/v11/ws`` (reverse WebSocket, recommended).
"""

from .adapter import Adapter
from .bot import Bot
from .config import Config

__all__ = ["Adapter", "Bot", "Config"]
