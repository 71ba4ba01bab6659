"""WeCom adapter: AI bots (long connection with native streaming, or webhook
callbacks with refresh streaming), self-built apps (encrypted XML callbacks,
``message/send``), and the group robot webhook for scheduled messages."""

from .adapter import Adapter as Adapter
from .api import send_group_robot as send_group_robot
from .bot import Bot as Bot
from .config import Config as Config
from .config import WeComApp as WeComApp
from .config import WeComBot as WeComBot
from .event import Event as Event
from .event import MessageEvent as MessageEvent
from .event import NoticeEvent as NoticeEvent
from .message import Message as Message
from .message import MessageSegment as MessageSegment
