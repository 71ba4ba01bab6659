"""Proactive sends: messages that answer nothing (schedules, alerts, plugins).

A target is one string, parsed into a typed :class:`Target`::

    qq:group:<id>              qq:user:<id>
    wechat:group:<id>          wechat:user:<id>
    ilink:user:<id>
    wecom:app:<app>:user:<id>  wecom:robot:<robot>    wecom:bot:<bot>:chat:<id>
    mp:<account>:user:<openid>
    web:user:<name>

Each adapter registers a sender for its platform (:func:`register_sender`), with the
platform's own rate limits. :func:`send` parses the target, runs the text through
every registered output filter (the sensitive-word plugin registers one), counts
the send against the kernel's per-target limit and the platform's limits in the
shared state (so every instance shares them), and hands it to the sender.

::

    SendError            the message did not go out (may be retried)
    ├── TargetError      the target string is malformed; names the bad part
    ├── SendRefused      the platform or a rule says no; retrying will not help
    └── RateLimited      a per-target limit is reached; ``retry_after`` seconds
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from bot.exceptions import FreeChatError
from bot.metrics import ERRORS
from bot.runtime import get_runtime


class SendError(FreeChatError):
    """The message did not go out."""


class TargetError(SendError):
    """A malformed target; the message names the part that is wrong."""


class SendRefused(SendError):
    """The platform (or one of its rules) refused; retrying will not help."""


class RateLimited(SendError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


MAX_PART = 256
MAX_TEXT = 20_000
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f:\ud800-\udfff]")
_DIGITS = re.compile(r"[0-9]{1,20}")

#: ``platform -> {kind: (number of parts after the platform, layout)}``
_SHAPES: dict[str, str] = {
    "qq": "qq:group:<id> or qq:user:<id>",
    "wechat": "wechat:group:<id> or wechat:user:<id>",
    "ilink": "ilink:user:<id>",
    "wecom": "wecom:app:<name>:user:<id>, wecom:robot:<name> or "
    "wecom:bot:<name>:chat:<id>",
    "mp": "mp:<account>:user:<openid>",
    "web": "web:user:<name>",
}


@dataclass(frozen=True, slots=True)
class Target:
    """Where a proactive message goes."""

    platform: str
    #: ``group``, ``user``, ``robot`` or ``chat``
    kind: str
    #: the chat or user id on the platform ('' for a WeCom group robot)
    id: str
    #: the configured account/app/robot/bot name, where the platform has several
    account: str = ""
    #: ``app`` or ``bot`` for WeCom (which API sends)
    via: str = ""

    def __str__(self) -> str:
        if self.platform == "wecom":
            if self.kind == "robot":
                return f"wecom:robot:{self.account}"
            part = "user" if self.via == "app" else "chat"
            return f"wecom:{self.via}:{self.account}:{part}:{self.id}"
        if self.platform == "mp":
            return f"mp:{self.account}:user:{self.id}"
        return f"{self.platform}:{self.kind}:{self.id}"


def _part(value: str, what: str, target: str) -> str:
    if not value:
        raise TargetError(f"target {target!r}: the {what} is empty")
    if len(value) > MAX_PART:
        raise TargetError(f"target {target!r}: the {what} is longer than {MAX_PART}")
    if _BAD_CHARS.search(value):
        raise TargetError(
            f"target {target!r}: the {what} has a space, colon or control character"
        )
    return value


def _expect(parts: list[str], index: int, word: str, target: str) -> None:
    got = parts[index] if index < len(parts) else ""
    if got != word:
        raise TargetError(
            f"target {target[:80]!r}: part {index + 1} must be {word!r}, got {got!r}"
            f" ({_SHAPES[parts[0]]})"
        )


def parse_target(text: str) -> Target:
    """Parse ``text`` into a :class:`Target`; :class:`TargetError` names the bad part."""
    if not isinstance(text, str) or not text:
        raise TargetError("target: empty")
    if len(text) > 4 * MAX_PART:
        raise TargetError(f"target: longer than {4 * MAX_PART} characters")
    parts = text.split(":")
    platform = parts[0]
    if platform not in _SHAPES:
        raise TargetError(
            f"target {text[:80]!r}: unknown platform {platform[:40]!r} "
            f"(one of {', '.join(_SHAPES)})"
        )

    def size(n: int) -> None:
        if len(parts) != n:
            raise TargetError(
                f"target {text[:80]!r}: {len(parts)} parts, expected {n} "
                f"({_SHAPES[platform]})"
            )

    if platform in ("qq", "wechat"):
        size(3)
        if parts[1] not in ("group", "user"):
            raise TargetError(
                f"target {text[:80]!r}: part 2 must be 'group' or 'user', "
                f"got {parts[1][:40]!r}"
            )
        ident = _part(parts[2], f"{parts[1]} id", text)
        if platform == "qq" and not _DIGITS.fullmatch(ident):
            raise TargetError(f"target {text[:80]!r}: a QQ {parts[1]} id is a number")
        return Target(platform, parts[1], ident)
    if platform in ("ilink", "web"):
        size(3)
        _expect(parts, 1, "user", text)
        return Target(platform, "user", _part(parts[2], "user id", text))
    if platform == "mp":
        size(4)
        _expect(parts, 2, "user", text)
        account = _part(parts[1], "account name", text)
        return Target("mp", "user", _part(parts[3], "openid", text), account)
    # wecom
    via = parts[1] if len(parts) > 1 else ""
    if via == "robot":
        size(3)
        return Target("wecom", "robot", "", _part(parts[2], "robot name", text))
    if via not in ("app", "bot"):
        raise TargetError(
            f"target {text[:80]!r}: part 2 must be 'app', 'robot' or 'bot', "
            f"got {via[:40]!r}"
        )
    size(5)
    _expect(parts, 3, "user" if via == "app" else "chat", text)
    name = _part(parts[2], f"{via} name", text)
    kind = "user" if via == "app" else "chat"
    return Target("wecom", kind, _part(parts[4], f"{kind} id", text), name, via)


# -- senders and filters -------------------------------------------------------------

#: ``(target, text) -> None``; raises :class:`SendError` (or a subclass)
SendFn = Callable[[Target, str], Awaitable[None]]
#: ``(count, window seconds)`` limits that apply to a target on its platform
LimitsFn = Callable[[Target], list[tuple[int, float]]]
OutputFilter = Callable[[str], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Sender:
    platform: str
    send: SendFn
    limits: LimitsFn = field(default=lambda target: [])


_senders: dict[str, Sender] = {}
_filters: list[OutputFilter] = []
#: the kernel's own per-target limit (count, window); see :func:`set_target_limit`
_target_limit: list[tuple[int, float]] = [(60, 60.0)]


def register_sender(
    platform: str, send: SendFn, limits: LimitsFn | None = None
) -> Callable[[], None]:
    """Register ``platform``'s sender; return a disposer. A later one replaces."""
    sender = Sender(platform, send, limits or (lambda target: []))
    _senders[platform] = sender

    def dispose() -> None:
        if _senders.get(platform) is sender:
            del _senders[platform]

    return dispose


def register_output_filter(fn: OutputFilter) -> Callable[[], None]:
    """Register a filter every proactive text passes; return a disposer."""
    _filters.append(fn)

    def dispose() -> None:
        if fn in _filters:
            _filters.remove(fn)

    return dispose


def set_target_limit(count: int, window: float) -> None:
    """At most ``count`` proactive messages per target within ``window`` seconds."""
    _target_limit[:] = [(count, window)]


def senders() -> list[str]:
    return sorted(_senders)


async def filter_output(text: str) -> str:
    for fn in tuple(_filters):
        text = await fn(text)
    return text


async def send(target: Target | str, text: str) -> str:
    """Send ``text`` to ``target``; return the text as sent (after the filters)."""
    if isinstance(target, str):
        target = parse_target(target)
    if not text or not text.strip():
        raise SendRefused(f"{target}: nothing to send (empty text)")
    if len(text) > MAX_TEXT:
        raise SendRefused(f"{target}: the text is longer than {MAX_TEXT} characters")
    sender = _senders.get(target.platform)
    if sender is None:
        raise SendRefused(f"{target}: the {target.platform} adapter is not enabled")
    text = await filter_output(text)
    if not text.strip():
        raise SendRefused(f"{target}: nothing left to send after the output filter")
    state = get_runtime().state
    for count, window in [*_target_limit, *sender.limits(target)]:
        result = await state.hit(f"send:{target}:{count}/{window:g}", count, window)
        if not result.allowed:
            raise RateLimited(
                f"{target}: at most {count} messages per {window:g} s; "
                f"retry in {result.retry_after:.0f} s",
                result.retry_after,
            )
    try:
        with checked_sends():  # filtered and limited above: the plugin hook skips it
            await sender.send(target, text)
    except SendError:
        ERRORS.labels("proactive_send").inc()
        raise
    return text


_checked: ContextVar[bool] = ContextVar("fc_checked_sends", default=False)


@contextlib.contextmanager
def checked_sends() -> Iterator[None]:
    """Sends in this block already passed the output filters and their limits (the
    chat's answers, proactive sends): the hook for plugins' sends (``bot.outbound``)
    leaves them alone instead of filtering and counting them twice."""
    token = _checked.set(True)
    try:
        yield
    finally:
        _checked.reset(token)


def sends_checked() -> bool:
    return _checked.get()
