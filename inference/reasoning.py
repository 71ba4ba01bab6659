"""Splitting Qwen3-style `<think>...</think>` out of streamed text.

Used only when a request sets `separate_reasoning`; otherwise the text passes
through untouched. Like vLLM's Qwen3 reasoning parser: text inside a leading
`<think>` block is reasoning, everything after `</think>` is content, and output
that does not start with `<think>` is all content. Partial tags split across
deltas are held back until they resolve.
"""

from __future__ import annotations

OPEN = "<think>"
CLOSE = "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ReasoningSplitter:
    """Incremental (reasoning, content) splitter for one output."""

    def __init__(self) -> None:
        self._state = "start"
        self._held = ""

    def feed(self, text: str) -> tuple[str, str]:
        """Add a delta; return the (reasoning, content) parts now certain."""
        held = self._held + text
        self._held = ""
        if self._state == "start":
            stripped = held.lstrip()
            if not stripped or (
                len(stripped) < len(OPEN) and OPEN.startswith(stripped)
            ):
                self._held = held
                return "", ""
            if stripped.startswith(OPEN):
                self._state = "reasoning"
                held = stripped[len(OPEN) :]
            else:
                self._state = "content"
                return "", held
        if self._state == "reasoning":
            end = held.find(CLOSE)
            if end >= 0:
                self._state = "after"
                reasoning, rest = held[:end], held[end + len(CLOSE) :]
                return reasoning, self._after(rest)
            keep = _partial_suffix(held, CLOSE)
            self._held = held[len(held) - keep :] if keep else ""
            return held[: len(held) - keep], ""
        if self._state == "after":
            return "", self._after(held)
        return "", held

    def _after(self, text: str) -> str:
        # Qwen3 puts blank lines after </think>; drop them before the answer.
        stripped = text.lstrip("\n")
        if stripped:
            self._state = "content"
            return stripped
        return ""

    def flush(self) -> tuple[str, str]:
        """Whatever is still held back, at the end of the output."""
        held, self._held = self._held, ""
        if self._state == "reasoning":
            return held, ""
        return "", held if self._state != "after" else ""
