"""Platform registration: how an adapter plugs into the chat kernel.

An adapter registers a :class:`Platform` under its NoneBot adapter name: a context
factory (event -> :class:`ChatContext`, or ``None`` to ignore the event) and a
deliverer (consumes ``ctx.reply`` and sends it the way the platform can show it).
The kernel looks platforms up by name and never inspects platform types.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .context import ChatContext

#: ``(bot, event) -> ChatContext | None``
ContextFactory = Callable[[Any, Any], Awaitable[ChatContext | None]]
#: ``(bot, event, ctx) -> None``; consumes ``ctx.reply``
Deliverer = Callable[[Any, Any, ChatContext], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Platform:
    """One platform as the kernel sees it."""

    #: the NoneBot adapter name (``Adapter.get_name()``)
    adapter: str
    context_factory: ContextFactory
    deliver: Deliverer
    #: default delivery style, for documentation and the dashboard
    style: str = "segments"
    #: FreeChat's platform key (``qq`` in ``qq:123``); empty: the adapter name
    #: in lower case
    key: str = ""


_platforms: dict[str, Platform] = {}


def register_platform(platform: Platform) -> Callable[[], None]:
    """Register ``platform``; return a disposer. A later registration replaces."""
    _platforms[platform.adapter] = platform

    def dispose() -> None:
        if _platforms.get(platform.adapter) is platform:
            del _platforms[platform.adapter]

    return dispose


def get_platform(adapter: str) -> Platform | None:
    return _platforms.get(adapter)


def platform_key(adapter: str) -> str:
    """FreeChat's platform key for the NoneBot adapter named ``adapter``."""
    platform = _platforms.get(adapter)
    return (platform.key if platform is not None else "") or adapter.lower()


def platforms() -> list[Platform]:
    return list(_platforms.values())


def strip_prefix(text: str, prefixes: list[str]) -> str | None:
    """``text`` without the first matching prefix, or None when none matches."""
    for prefix in prefixes:
        if prefix and text.startswith(prefix):
            return text[len(prefix) :].lstrip()
    return None


def is_superuser(bot: Any, platform: str, user_id: str) -> bool:
    """Whether FreeChat's ``superusers`` list ``platform:user_id`` or the bare
    ``user_id`` (NoneBot's ``superusers`` holds bare ids only)."""
    config = bot.config
    superusers: set[str] = getattr(config, "freechat_superusers", None) or set()
    if not superusers:  # NoneBot initialised without FreeChat's settings (tests)
        superusers = getattr(config, "superusers", set()) or set()
    return f"{platform}:{user_id}" in superusers or user_id in superusers
