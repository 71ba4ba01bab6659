"""Text normalisation for word matching, with a map back to the original text.

Every character is folded on its own through one lookup table, so the normalised text
of a string is the concatenation of its characters' foldings and any match can be
mapped back to exactly the original characters that produced it. Per character:

1. NFKC (full-width ``ａ`` -> ``a``, circled and mathematical letters, compatibility
   ideographs), then case folding;
2. optionally traditional -> simplified Chinese (``說`` -> ``说``, single-character
   entries of zhconv's table) and Cyrillic/Greek look-alikes -> Latin;
3. format characters (category ``Cf``: U+200B/200C/200D/2060/FEFF/00AD/202E, which
   NFKC keeps), lone surrogates and the configured skip characters (punctuation,
   spaces) are dropped,
   so ``傻@冒`` and ``f u c k`` read as the bare word.

The table covers U+0000..U+2FFFF (every script and the CJK extensions people type);
characters above it are first replaced one-for-one by a single stand-in (format
characters there, the tag block, by a dropped one), which keeps offsets intact.
"""

from __future__ import annotations

import re
import string
import unicodedata
from functools import lru_cache
from itertools import accumulate

import numpy as np
import numpy.typing as npt

TABLE_SIZE = 0x30000
#: every character above the table folds like this one
_OTHER = "\U0002fffe"
_DROPPED = "\u200b"
_HIGH = re.compile("[\U00030000-\U0010ffff]")
#: categories dropped: format characters, and lone surrogates (from broken JSON)
_DROP = ("Cf", "Cs")

#: punctuation, spaces and symbols skipped inside (and between) words
DEFAULT_SKIP_CHARS = (
    string.whitespace
    + string.punctuation
    + "\u3000，。、；：？！…—～·「」『』（）【】《》〈〉“”‘’〔〕・￥×÷°■□◆◇○●★☆♪♫♡♥"
)

#: Cyrillic and Greek letters that look like Latin ones (after case folding)
HOMOGLYPHS = {
    "а": "a",
    "в": "b",
    "е": "e",
    "ё": "e",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "і": "i",
    "ј": "j",
    "ѕ": "s",
    "ԁ": "d",
    "ɡ": "g",
    "α": "a",
    "β": "b",
    "ε": "e",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
}


def _traditional_map() -> dict[str, str]:
    import zhconv

    zhconv.loaddict()
    table: dict[str, str] = zhconv.zhconv.zhcdicts["zh2Hans"]
    return {k: v for k, v in table.items() if len(k) == 1 and len(v) == 1}


@lru_cache(maxsize=8)
def build_table(skip_chars: str, traditional: bool, homoglyphs: bool) -> list[str]:
    """The folding of every character below :data:`TABLE_SIZE`."""
    skip = set(skip_chars)
    t2s = _traditional_map() if traditional else {}
    extra = HOMOGLYPHS if homoglyphs else {}
    table: list[str] = []
    append = table.append
    for cp in range(TABLE_SIZE):
        ch = chr(cp)
        folded = unicodedata.normalize("NFKC", ch).casefold()
        if folded == ch and ch not in t2s and ch not in extra:
            keep = ch not in skip and unicodedata.category(ch) not in _DROP
            append(ch if keep else "")
            continue
        out = []
        for c in folded:
            c = extra.get(c, c)
            c = t2s.get(c, c)
            if c not in skip and unicodedata.category(c) not in _DROP:
                out.append(c)
        append("".join(out))
    return table


def _high(match: re.Match[str]) -> str:
    return _DROPPED if unicodedata.category(match.group()) == "Cf" else _OTHER


class Normalizer:
    """Folds text for matching; :meth:`with_map` also tells where each piece came from."""

    def __init__(
        self,
        *,
        skip_chars: str = DEFAULT_SKIP_CHARS,
        traditional: bool = True,
        homoglyphs: bool = True,
    ) -> None:
        self.skip_chars = skip_chars
        self.table = build_table(skip_chars, traditional, homoglyphs)
        #: UTF-8 length of each character's folding
        self.byte_lengths = _byte_lengths(skip_chars, traditional, homoglyphs)

    @staticmethod
    def prepare(text: str) -> str:
        """``text`` with characters above the table replaced one-for-one."""
        return _HIGH.sub(_high, text) if _HIGH.search(text) else text

    def normalize(self, text: str) -> str:
        return self.prepare(text).translate(self.table)

    def fold_char(self, ch: str) -> str:
        return self.table[ord(self.prepare(ch))]

    def with_map(self, text: str) -> tuple[str, list[int]]:
        """The normalised text and, per original character, the normalised length
        up to and including it (a running total)."""
        pre = self.prepare(text)
        ends = list(accumulate(map(len, map(self.table.__getitem__, map(ord, pre)))))
        return pre.translate(self.table), ends

    def byte_ends(self, prepared: str) -> npt.NDArray[np.int64]:
        """Per character of ``prepared`` text, the running UTF-8 length of the
        normalised text up to and including it (vectorised)."""
        raw = prepared.encode("utf-32-le", "surrogatepass")
        cps = np.frombuffer(raw, dtype=np.uint32)
        return np.cumsum(self.byte_lengths[cps], dtype=np.int64)


@lru_cache(maxsize=8)
def _byte_lengths(
    skip_chars: str, traditional: bool, homoglyphs: bool
) -> npt.NDArray[np.uint8]:
    table = build_table(skip_chars, traditional, homoglyphs)
    return np.fromiter(
        (len(x.encode("utf-8", "surrogatepass")) for x in table),
        dtype=np.uint8,
        count=len(table),
    )
