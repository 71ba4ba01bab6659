"""Messages to superusers through every channel that can reach them.

Superusers are ``platform:user_id`` keys (``qq:12345``); those of platforms whose
user id is a send target (QQ, WeChat, iLink, web) are messaged directly, and every
extra target in ``alerts.targets`` (a WeCom app user, a WeCom group robot,
an Official Account follower) too. A channel that fails is skipped, never retried
in a loop: an alert must not become a storm.
"""

from __future__ import annotations

import logging

from bot.runtime import get_runtime
from bot.send import SendError, parse_target, send

log = logging.getLogger("freechat.alerts")
DIRECT = ("qq", "wechat", "ilink", "web")


def superuser_targets(superusers: list[str], extra: list[str]) -> list[str]:
    targets: list[str] = []
    for key in superusers:
        platform, _, user = key.partition(":")
        if platform in DIRECT and user:
            targets.append(f"{platform}:user:{user}")
    targets.extend(extra)
    valid: list[str] = []
    for target in dict.fromkeys(targets):
        try:
            valid.append(str(parse_target(target)))
        except SendError as exc:
            log.warning("alerts: skipping a target: %s", exc)
    return valid


async def notify_superusers(
    text: str, extra: list[str], *, avoid: str = ""
) -> list[str]:
    """Send ``text`` to every superuser target, and ``extra``, not on platform
    ``avoid``; return the targets reached."""
    rt = get_runtime()
    reached: list[str] = []
    for target in superuser_targets(list(rt.settings.superusers), extra):
        if avoid and target.split(":", 1)[0] == avoid:
            continue
        try:
            await send(target, text)
            reached.append(target)
        except SendError as exc:
            log.warning("alerts: %s not reached: %s", target, exc)
    if not reached:
        log.error("alerts: no superuser could be reached: %s", text[:200])
    return reached
