"""Personal WeChat groups through a OneBot v12 bridge (ComWeChat profile), hardened.

Enable with ``adapters: {wechat: {access_token: ...}}``; the bridge dials
``ws://<host>:<port>/onebot/v12/ws``.
"""

from .adapter import Adapter
from .config import Config

__all__ = ["Adapter", "Config"]
