"""Parsing Qwen3 / Hermes-style tool calls out of streamed text.

Qwen3's chat template asks for each call as

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

`ToolCallParser` splits a stream of text deltas into content and complete calls,
like vLLM's `hermes` parser: text outside the tags is content (whitespace between
calls is dropped), a partial `<tool_call>` tag at the end of a delta is held back
until it resolves, and a call is released once its closing tag arrives (or the
output ends after a JSON object). A block whose body is not a JSON object with a
string `name` is passed through as content, tags included, so nothing the model
wrote is lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

OPEN = "<tool_call>"
CLOSE = "</tool_call>"


@dataclass(frozen=True)
class ParsedCall:
    """One complete tool call: the function's name and its arguments as JSON."""

    name: str
    arguments: str


Piece = str | ParsedCall


def _partial_suffix(text: str, tag: str) -> int:
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


def parse_call(body: str) -> ParsedCall | None:
    """The call a block's body describes, or None when it is not one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    arguments = data.get("arguments", data.get("parameters", {}))
    if isinstance(arguments, str):
        text = arguments
    else:
        text = json.dumps(arguments, ensure_ascii=False)
    return ParsedCall(data["name"], text)


class ToolCallParser:
    """Incremental splitter of one output into content and tool calls."""

    def __init__(self) -> None:
        self._held = ""
        self._in_call = False
        self.calls = 0

    def feed(self, text: str) -> list[Piece]:
        """Add a delta; return the pieces now certain, in order."""
        held = self._held + text
        self._held = ""
        pieces: list[Piece] = []
        while held:
            if self._in_call:
                end = held.find(CLOSE)
                if end < 0:
                    self._held = held
                    break
                pieces.append(self._call(held[:end]))
                held = held[end + len(CLOSE) :]
                self._in_call = False
                continue
            start = held.find(OPEN)
            if start < 0:
                keep = _partial_suffix(held, OPEN)
                self._held = held[len(held) - keep :] if keep else ""
                pieces.append(held[: len(held) - keep])
                break
            pieces.append(held[:start])
            held = held[start + len(OPEN) :]
            self._in_call = True
        return self._tidy(pieces)

    def flush(self) -> list[Piece]:
        """What is still held, at the end of the output."""
        held, self._held = self._held, ""
        if self._in_call:
            self._in_call = False
            return self._tidy([self._call(held, closed=False)])
        return self._tidy([held])

    def _call(self, body: str, *, closed: bool = True) -> Piece:
        call = parse_call(body)
        if call is None:
            return OPEN + body + (CLOSE if closed else "")
        self.calls += 1
        return call

    def _tidy(self, pieces: list[Piece]) -> list[Piece]:
        # Whitespace around calls is the template's layout, not content.
        return [
            p
            for p in pieces
            if isinstance(p, ParsedCall) or (p and not (self.calls and not p.strip()))
        ]
