"""The running instance's shared services, set once at start-up.

Plugins and adapters read them at call time with :func:`get_runtime` (never at import
time), so importing a plugin has no side effects.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from bot.exceptions import FreeChatError
from bot.llm import LLMClient
from bot.registry import Registry
from bot.settings import Settings
from bot.state import StateStore


@dataclass
class Runtime:
    settings: Settings
    state: StateStore
    llm: LLMClient
    registry: Registry
    #: the embedded inference engine, when it runs in this process
    inference: Any | None = None
    #: the model answers come from is the demo model (random weights)
    demo_model: bool = False
    instance_id: str = ""
    started_at: float = field(default_factory=time.time)
    #: background tasks owned by the kernel; cancelled and awaited on shutdown
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    #: set when shutdown begins: adapters take no new events
    draining: bool = False
    #: the tasks answering claimed events; shutdown lets them finish (or hands
    #: their events back) before it closes the connections
    handling: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Any, *, name: str | None = None) -> asyncio.Task[Any]:
        """Start a background task that is cancelled on shutdown."""
        task: asyncio.Task[Any] = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


_runtime: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def get_runtime() -> Runtime:
    """The running instance's services; raises before start-up."""
    if _runtime is None:
        raise FreeChatError("FreeChat is not started (no runtime)")
    return _runtime


def has_runtime() -> bool:
    return _runtime is not None
