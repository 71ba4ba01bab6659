"""Sensitive-word matching: an Aho-Corasick automaton over normalised text, input
checks with block/mask/log actions, and a streaming output filter.

The automaton is ``ahocorasick_rs`` (the Rust ``aho-corasick`` crate, contiguous
NFA) over the UTF-8 bytes of the normalised text. pyahocorasick keeps each node's
children in a list searched linearly, which is slow for Chinese lists whose root
has thousands of children: ``bench/filters.py`` prints both (about 36 MB/s against
6 MB/s with 100,000 words). Matches are mapped back to the original characters
(:meth:`.Normalizer.byte_ends`), so masking replaces exactly them, one ``*`` each.

Words whose ends are ASCII letters or digits only match at ASCII word boundaries
(judged on the original neighbours), so ``ass`` does not hit ``class`` while ``a.s.s``
and ``ａｓｓ`` still do.
"""

from __future__ import annotations

import enum
import logging
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick_rs
import numpy as np

from .normalize import Normalizer

log = logging.getLogger(__name__)


class Action(enum.IntEnum):
    """What a category's hits do; a larger value wins when several categories hit."""

    LOG = 1
    MASK = 2
    BLOCK = 3

    @classmethod
    def parse(cls, value: str) -> Action:
        try:
            return cls[value.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown action {value!r} (block, mask or log)") from None


@dataclass(frozen=True, slots=True)
class Hit:
    """One listed word found in a text: original characters ``[start, end)``."""

    start: int
    end: int
    word: str
    category: str
    action: Action


@dataclass(slots=True)
class _Entry:
    word: str
    category: str
    action: Action
    left_boundary: bool
    right_boundary: bool


@dataclass(slots=True)
class Scan:
    """Hits in a text, and where a pending word-boundary decision starts."""

    hits: list[Hit]
    #: length of the normalised text, in characters
    norm_len: int
    #: original index of the first match whose right boundary is not known yet
    pending: int | None = None


def _is_word_char(folded: str) -> bool:
    return bool(folded) and folded[0].isascii() and folded[0].isalnum()


class Matcher:
    """An immutable automaton over a word list; rebuilt when the list changes."""

    def __init__(
        self,
        words: Iterable[tuple[str, str]],
        *,
        actions: dict[str, Action] | None = None,
        default_action: Action = Action.MASK,
        normalizer: Normalizer | None = None,
        ascii_boundary: bool = True,
    ) -> None:
        self.normalizer = normalizer or Normalizer()
        actions = actions or {}
        by_norm: dict[str, _Entry] = {}
        for word, category in words:
            norm = self.normalizer.normalize(word.strip())
            if not norm:
                continue
            action = actions.get(category, default_action)
            old = by_norm.get(norm)
            if old is not None and old.action >= action:
                continue
            ascii_end = ascii_boundary and norm.isascii()
            by_norm[norm] = _Entry(
                word=word.strip(),
                category=category,
                action=action,
                left_boundary=ascii_end and norm[0].isalnum(),
                right_boundary=ascii_end and norm[-1].isalnum(),
            )
        self._patterns = list(by_norm)
        self._entries = list(by_norm.values())
        #: length of the longest normalised word
        self.longest = max(map(len, self._patterns), default=0)
        # matching UTF-8 bytes is about 3x faster than str (no offset conversion
        # inside the library); offsets are mapped back with Normalizer.byte_ends
        self._ac = (
            ahocorasick_rs.BytesAhoCorasick(
                [p.encode("utf-8", "surrogatepass") for p in self._patterns],
                matchkind=ahocorasick_rs.MatchKind.Standard,
                implementation=ahocorasick_rs.Implementation.ContiguousNFA,
            )
            if self._patterns
            else None
        )

    def __len__(self) -> int:
        return len(self._patterns)

    def scan(self, text: str, *, final: bool = True, before: str = "") -> Scan:
        """Find every listed word in ``text``.

        ``before`` is the character preceding ``text`` (streaming); with ``final``
        false, a match touching the end of ``text`` whose right boundary depends on
        what comes next is reported in ``pending`` instead of ``hits``.
        """
        if self._ac is None or not text:
            return Scan([], 0)
        pre = self.normalizer.prepare(text)
        norm = pre.translate(self.normalizer.table)
        found = self._ac.find_matches_as_indexes(
            norm.encode("utf-8", "surrogatepass"), overlapping=True
        )
        if not found:
            return Scan([], len(norm))
        ends = self.normalizer.byte_ends(pre)
        index = np.fromiter((f[0] for f in found), dtype=np.int64, count=len(found))
        starts = np.fromiter((f[1] for f in found), dtype=np.int64, count=len(found))
        stops = np.fromiter((f[2] for f in found), dtype=np.int64, count=len(found))
        first = np.searchsorted(ends, starts, side="right")
        after = np.searchsorted(ends, stops - 1, side="right") + 1
        fold = self.normalizer.fold_char
        hits: list[Hit] = []
        pending: int | None = None
        for i, a, b in zip(index.tolist(), first.tolist(), after.tolist(), strict=True):
            entry = self._entries[i]
            if entry.left_boundary:
                prev = text[a - 1] if a > 0 else before
                if prev and _is_word_char(fold(prev)):
                    continue
            if entry.right_boundary:
                if b >= len(text):
                    if not final:
                        pending = a if pending is None else min(pending, a)
                        continue
                elif _is_word_char(fold(text[b])):
                    continue
            hits.append(Hit(a, b, entry.word, entry.category, entry.action))
        return Scan(hits, len(norm), pending)

    def find(self, text: str) -> list[Hit]:
        return self.scan(text).hits


def mask(text: str, hits: Iterable[Hit], *, char: str = "*") -> str:
    """``text`` with every character of the given hits replaced by ``char``."""
    chars = list(text)
    for hit in hits:
        chars[hit.start : hit.end] = char * (hit.end - hit.start)
    return "".join(chars)


@dataclass(slots=True)
class Verdict:
    """The outcome of checking one user message."""

    action: Action | None
    text: str
    hits: list[Hit] = field(default_factory=list)


def check(matcher: Matcher, text: str) -> Verdict:
    """Check a whole message: block, mask (the masked text) or log (``text`` as is)."""
    hits = matcher.find(text)
    if not hits:
        return Verdict(None, text)
    action = max(h.action for h in hits)
    if action is Action.BLOCK:
        return Verdict(action, text, hits)
    masked = mask(text, (h for h in hits if h.action >= Action.MASK))
    return Verdict(action, masked, hits)


class StreamFilter:
    """Filters a streamed text so that no listed word is ever released.

    Only the last ``longest - 1`` normalised characters (plus any zero-width or skip
    characters after them, and a match whose ASCII boundary is still undecided) are
    held back; everything before them can no longer be part of a word that future
    chunks complete. On output, ``block`` words are masked like ``mask`` words.
    ``max_hold`` caps the held text: a listed word split by a longer run of
    characters that normalise to nothing is not caught.
    """

    def __init__(self, matcher: Matcher, *, max_hold: int = 1024) -> None:
        self.matcher = matcher
        self.max_hold = max(max_hold, matcher.longest)
        self._buf = ""
        self._masked: set[int] = set()
        self._before = ""
        self._released = 0
        #: every hit, with offsets into the whole stream
        self.hits: list[Hit] = []
        self._seen: set[tuple[int, str]] = set()

    def feed(self, chunk: str) -> str:
        """Add ``chunk``; return the text that is now safe to show."""
        if not chunk:
            return ""
        self._buf += chunk
        return self._release(final=False)

    def flush(self) -> str:
        """The end of the stream: release everything that is left."""
        return self._release(final=True) if self._buf else ""

    def _release(self, *, final: bool) -> str:
        buf = self._buf
        scan = self.matcher.scan(buf, final=final, before=self._before)
        for hit in scan.hits:
            key = (self._released + hit.start, hit.word)
            if key not in self._seen:
                self._seen.add(key)
                self.hits.append(
                    Hit(
                        key[0],
                        self._released + hit.end,
                        hit.word,
                        hit.category,
                        hit.action,
                    )
                )
            if hit.action >= Action.MASK:
                self._masked.update(range(hit.start, hit.end))
        cut = len(buf) if final else self._safe_cut(buf, scan)
        if len(buf) - cut > self.max_hold:
            cut = len(buf) - self.max_hold
        if cut <= 0:
            return ""
        masked = self._masked
        if masked:
            out = "".join("*" if i in masked else buf[i] for i in range(cut))
            self._masked = {i - cut for i in masked if i >= cut}
        else:
            out = buf[:cut]
        self._before = buf[cut - 1]
        self._buf = buf[cut:]
        self._released += cut
        return out

    def _safe_cut(self, buf: str, scan: Scan) -> int:
        """How many original characters can no longer be part of a future word."""
        safe = scan.norm_len - max(self.matcher.longest - 1, 0)
        if safe >= scan.norm_len:
            cut = len(buf)
        elif safe <= 0:
            cut = 0
        else:
            _, ends = self.matcher.normalizer.with_map(buf)
            cut = bisect_right(ends, safe)
        if scan.pending is not None:
            cut = min(cut, scan.pending)
        return cut


def read_word_files(dirs: Iterable[str | Path]) -> Iterator[tuple[str, str]]:
    """``(word, category)`` from every ``*.txt`` in ``dirs``: one word per line, the
    file name is the category, blank lines and ``#`` comments are ignored."""
    for d in dirs:
        folder = Path(d)
        if not folder.is_dir():
            log.warning("sensitive word folder %s does not exist", folder)
            continue
        for file in sorted(folder.glob("*.txt")):
            category = file.stem
            with file.open(encoding="utf-8-sig") as fh:
                for line in fh:
                    word = line.strip()
                    if word and not word.startswith("#"):
                        yield word, category
