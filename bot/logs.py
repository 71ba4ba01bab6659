"""Logging: NoneBot logs through loguru; the standard ``logging`` records of FreeChat
and its libraries are forwarded to the same sink.

NoneBot's default sink is added at level 0 with a filter, so every debug record is
built and then dropped; we replace it with a sink whose own level is the configured
one, which skips that work.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from nonebot.log import LoguruHandler, default_filter, default_format, logger

from bot.redact import redact_line

if TYPE_CHECKING:
    from loguru import Record

_LEVELS = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


def _filter(record: Record) -> bool:
    # tokens in URLs (a refused socket's ``?access_token=``) never reach the log
    record["message"] = redact_line(record["message"])
    return bool(default_filter(record))


def setup_logging(level: str) -> None:
    """Route all logs to one loguru sink at ``level``."""
    levelno = _LEVELS.get(level, 20)
    logger.remove()
    logger.add(
        sys.stdout,
        level=levelno,
        diagnose=False,
        filter=_filter,
        format=default_format,
    )
    root = logging.getLogger()
    root.handlers[:] = [LoguruHandler()]
    root.setLevel(levelno)
    for noisy in ("uvicorn.access", "httpx", "httpcore", "tortoise", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
