"""WeChat Official Account adapter: plaintext, compatible and safe (AES) callbacks,
MsgId dedup in the shared state, the 5-second passive window, customer-service API."""

from .adapter import Adapter as Adapter
from .bot import Bot as Bot
from .config import Config as Config
from .config import MPAccount as MPAccount
from .event import Event as Event
from .event import MessageEvent as MessageEvent
from .event import NoticeEvent as NoticeEvent
from .message import Message as Message
from .message import MessageSegment as MessageSegment
