"""Every message a plugin sends passes FreeChat's policy.

NoneBot runs ``Bot.on_calling_api`` hooks for every API call of every adapter's
bot, with the call's parameters, before the call goes out; that is the one place
all send paths meet (``bot.send``, ``send_msg``, ``send_group_msg``,
``send_private_msg``, ``send_message``, ``call_api("send_...")``). The hook here
counts each send per plugin (``freechat_plugin_sends_total``), asks the registered
gates (per-chat send limits: a refusal drops the send), and runs the text of the
message through the kernel's output filters in place (:func:`bot.send.filter_output`:
the same ones every proactive send passes; the sensitive-word plugin registers one).

The chat's own answers are not touched: the chain already filtered and limited
them, and :func:`bot.send.send` did the same for proactive sends (both mark their
sends with :func:`bot.send.checked_sends`, here also as :func:`own_sends`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nonebot.adapters import Bot, Message, MessageSegment
from nonebot.exception import MockApiException
from nonebot.matcher import current_matcher
from prometheus_client import Counter

from bot.dispatch import is_send_api
from bot.send import checked_sends, filter_output, sends_checked

__all__ = [
    "SendInfo",
    "filter_message",
    "install",
    "own_sends",
    "register_gate",
]

log = logging.getLogger(__name__)

PLUGIN_SENDS = Counter(
    "freechat_plugin_sends_total",
    "Messages sent by plugins, by plugin and outcome (sent, refused)",
    ["plugin", "outcome"],
)

#: text -> filtered text
TextFilter = Callable[[str], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class SendInfo:
    """One send as the gates see it."""

    bot: Bot
    api: str
    plugin: str
    #: ``<bot id>:group:<id>`` or ``<bot id>:user:<id>`` (``<bot id>:?`` unknown)
    chat: str


#: -> False: drop the send
SendGate = Callable[[SendInfo], Awaitable[bool]]

_gates: list[SendGate] = []
_installed = False


def _register(items: list[Any], item: Any) -> Callable[[], None]:
    items.append(item)
    install()

    def dispose() -> None:
        with contextlib.suppress(ValueError):
            items.remove(item)

    return dispose


def register_gate(fn: SendGate) -> Callable[[], None]:
    """Ask ``fn`` before every plugin message goes out; return a disposer."""
    return _register(_gates, fn)


own_sends = checked_sends


def install() -> None:
    """Register the hook with NoneBot (idempotent)."""
    global _installed
    if not _installed:
        _installed = True
        Bot.on_calling_api(_on_calling_api)


def _plugin() -> str:
    try:
        matcher = current_matcher.get()
    except LookupError:
        return "unknown"  # a scheduled job, a start-up hook
    return str(matcher.plugin_id or matcher.module_name or "unknown")


def _chat_of(bot: Bot, data: dict[str, Any]) -> str:
    kind = data.get("message_type") or data.get("detail_type")
    group = data.get("group_id")
    user = data.get("user_id")
    if group is not None and kind in (None, "group"):
        return f"{bot.self_id}:group:{group}"
    if user is not None:
        return f"{bot.self_id}:user:{user}"
    return f"{bot.self_id}:?"


async def _on_calling_api(bot: Bot, api: str, data: dict[str, Any]) -> None:
    if not is_send_api(api) or sends_checked():
        return
    plugin = _plugin()
    info = SendInfo(bot, api, plugin, _chat_of(bot, data))
    for gate in list(_gates):
        if not await gate(info):
            PLUGIN_SENDS.labels(plugin, "refused").inc()
            log.info("a message of plugin %s to %s was refused", plugin, info.chat)
            raise MockApiException(result=None)
    for key in ("message", "content", "text"):
        if key in data:
            data[key] = await filter_message(data[key], filter_output)
    PLUGIN_SENDS.labels(plugin, "sent").inc()


async def filter_message(message: Any, fn: TextFilter) -> Any:
    """``message`` (a string, a NoneBot message or segment, or OneBot segment
    dicts) with ``fn`` applied to its text; other segments are kept."""
    if isinstance(message, str):
        return await fn(message)
    if isinstance(message, MessageSegment):
        return await _segment(message, fn)
    if isinstance(message, Message):
        out = message.__class__()
        for seg in message:
            out.append(await _segment(seg, fn))
        return out
    if isinstance(message, dict):
        return await _dict_segment(message, fn)
    if isinstance(message, list):
        return [
            await _dict_segment(seg, fn) if isinstance(seg, dict) else seg
            for seg in message
        ]
    return message


async def _segment(seg: MessageSegment[Any], fn: TextFilter) -> MessageSegment[Any]:
    text = seg.data.get("text") if seg.is_text() else None
    if not isinstance(text, str):
        return seg
    return seg.__class__(seg.type, {**seg.data, "text": await fn(text)})


async def _dict_segment(seg: dict[str, Any], fn: TextFilter) -> dict[str, Any]:
    data = seg.get("data")
    if seg.get("type") != "text" or not isinstance(data, dict):
        return seg
    text = data.get("text")
    if not isinstance(text, str):
        return seg
    return {**seg, "data": {**data, "text": await fn(text)}}
