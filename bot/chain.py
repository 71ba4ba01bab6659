"""The ordered onion middleware chain.

A middleware is ``async def mw(ctx, call_next) -> None``. Lower ``order`` runs first
(outermost). Registering returns a disposer. ``call_next`` may be awaited at most once
per middleware; a chain deeper than :data:`MAX_DEPTH` is refused (Koishi's
``Next.MAX_DEPTH``).
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .context import ChatContext
from .exceptions import ChainError

NextFn = Callable[[], Awaitable[None]]
Middleware = Callable[[ChatContext, NextFn], Awaitable[None]]
Terminal = Callable[[ChatContext], Awaitable[None]]
Observer = Callable[[str, float], None]

MAX_DEPTH = 64

_seq = itertools.count()


@dataclass(order=True, frozen=True)
class _Entry:
    order: int
    seq: int
    name: str = field(compare=False)
    fn: Middleware = field(compare=False)


class MiddlewareChain:
    """An ordered list of middleware run as an onion around a terminal step."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._observer: Observer | None = None

    def register(
        self, fn: Middleware, *, order: int, name: str | None = None
    ) -> Callable[[], None]:
        """Add ``fn`` at ``order`` (ties keep registration order); return a disposer."""
        if len(self._entries) >= MAX_DEPTH:
            raise ChainError(f"middleware chain is full ({MAX_DEPTH} entries)")
        label = name or str(getattr(fn, "__name__", "mw"))
        entry = _Entry(order, next(_seq), label, fn)
        bisect.insort(self._entries, entry)

        def dispose() -> None:
            if entry in self._entries:
                self._entries.remove(entry)

        return dispose

    def set_observer(self, observer: Observer | None) -> None:
        """Receive ``(middleware name, seconds)`` after each middleware returns."""
        self._observer = observer

    @property
    def names(self) -> list[str]:
        return [e.name for e in self._entries]

    async def run(self, ctx: ChatContext, terminal: Terminal) -> None:
        """Run every middleware around ``terminal`` for ``ctx``."""
        await _Next(tuple(self._entries), 0, ctx, terminal, self._observer)()


class _Next:
    """``call_next`` for the middleware at ``index``: one small object per step
    instead of nested closures (this is the per-message hot path)."""

    __slots__ = ("called", "ctx", "entries", "index", "observer", "terminal")

    def __init__(
        self,
        entries: tuple[_Entry, ...],
        index: int,
        ctx: ChatContext,
        terminal: Terminal,
        observer: Observer | None,
    ) -> None:
        self.entries = entries
        self.index = index
        self.ctx = ctx
        self.terminal = terminal
        self.observer = observer
        self.called = False

    async def __call__(self) -> None:
        i = self.index
        if i == len(self.entries):
            await self.terminal(self.ctx)
            return
        entry = self.entries[i]
        call_next = _Next(self.entries, i + 1, self.ctx, self.terminal, self.observer)
        if self.observer is None:
            await entry.fn(self.ctx, call_next.once(entry.name))
            return
        start = time.perf_counter()
        try:
            await entry.fn(self.ctx, call_next.once(entry.name))
        finally:
            self.observer(entry.name, time.perf_counter() - start)

    def once(self, caller: str) -> NextFn:
        async def call_next() -> None:
            if self.called:
                raise ChainError(f"{caller} called call_next twice")
            self.called = True
            await self()

        return call_next


#: the process-wide chain the ``chat`` plugin runs
chain = MiddlewareChain()
