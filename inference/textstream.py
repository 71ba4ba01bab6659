"""Token-by-token text: incremental detokenizing and stop strings.

`TextStream` turns token ids into text deltas with `tokenizers.decoders.DecodeStream`
(it emits each piece as soon as its bytes form valid UTF-8, so Chinese streams
character by character, unlike `TextIteratorStreamer`, which waits for a space),
then holds back only the tail that could still grow into a stop string.
"""

from __future__ import annotations

from typing import Any

from tokenizers.decoders import DecodeStream


class StopMatcher:
    """Cut text at the first stop string; hold back possible stop prefixes."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Add `text`; return (text safe to emit, whether a stop string was hit)."""
        if not self.stops:
            return text, False
        full = self.pending + text
        hits = [i for i in (full.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.pending = ""
            return full[: min(hits)], True
        hold = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(full)), hold, -1):
                if full.endswith(stop[:size]):
                    hold = size
                    break
        self.pending = full[len(full) - hold :] if hold else ""
        return full[: len(full) - hold], False

    def flush(self) -> str:
        """The held-back text, released when generation ends without a stop."""
        text, self.pending = self.pending, ""
        return text


class TextStream:
    """Detokenize one request's tokens incrementally."""

    def __init__(self, tokenizer: Any, stops: tuple[str, ...]) -> None:
        self._backend = tokenizer.backend_tokenizer
        self._decoder = DecodeStream(skip_special_tokens=True)
        self._stops = StopMatcher(stops)

    def push(self, token_id: int) -> tuple[str, bool]:
        """Text for one more token and whether a stop string ended the output."""
        piece = self._decoder.step(self._backend, token_id)
        if not piece:
            return "", False
        return self._stops.feed(piece)

    def flush(self) -> str:
        """Text held back for stop matching, at the end of generation."""
        return self._stops.flush()
