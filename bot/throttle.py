"""A log line for a failure that repeats with every message (a dependency down).

During an outage the same error would otherwise be logged once per message (one
ERROR line per message at hundreds a second buries everything else). A
:class:`ThrottledLog` writes the first occurrence at once, then at most one line per
``every`` seconds with how many it held back.
"""

from __future__ import annotations

import logging
import time
from typing import Any


class ThrottledLog:
    def __init__(self, logger: logging.Logger, every: float = 30.0) -> None:
        self.logger = logger
        self.every = every
        self._next = 0.0
        self._held = 0

    def log(self, level: int, msg: str, *args: Any) -> bool:
        """Log ``msg % args`` unless one was logged less than ``every`` s ago;
        True when it was written."""
        now = time.monotonic()
        if now < self._next:
            self._held += 1
            return False
        if self._held:
            msg += " (and %d more like it)"
            args = (*args, self._held)
        self._held = 0
        self._next = now + self.every
        self.logger.log(level, msg, *args, stacklevel=2)
        return True
