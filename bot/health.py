"""Health of channels that are not a NoneBot bot's connection (an Official
Account's token refresh, ...): the adapter reports, watchers (the alerts plugin)
hear. A bot's own connect and disconnect are NoneBot's driver hooks."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

#: ``(channel, platform, ok, why) -> None``; must not block
Watcher = Callable[[str, str, bool, str], None]

_watchers: list[Watcher] = []


def watch(fn: Watcher) -> Callable[[], None]:
    """Hear every report; return a disposer."""
    _watchers.append(fn)

    def dispose() -> None:
        if fn in _watchers:
            _watchers.remove(fn)

    return dispose


def report(channel: str, platform: str, ok: bool, why: str = "") -> None:
    """Say that ``channel`` (on ``platform``) works, or does not and why."""
    for fn in tuple(_watchers):
        try:
            fn(channel, platform, ok, why)
        except Exception:  # a watcher's bug must not break the adapter's call
            log.exception("a health watcher failed on %s", channel)
