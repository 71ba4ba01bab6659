"""The OpenAI-compatible front door: ``POST /v1/chat/completions`` on the bot itself,
authenticated with per-user API keys, answered through the whole middleware chain."""

from .adapter import Adapter
from .event import ChatCompletionEvent

__all__ = ["Adapter", "ChatCompletionEvent"]
