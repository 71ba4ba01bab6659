"""The evasion corpus and the benign corpus of the sensitive-word tests.

``python tests/plugins/sensitive_words/sw_corpus.py`` rewrites ``evasion.jsonl`` from
the word lists in ``words/``: every listed word in many disguises (full-width, case,
zero-width and format characters, inserted punctuation and spaces, traditional forms,
look-alike letters, mathematical letters). :func:`benign_sentences` builds at least
2,000 ordinary Chinese and English sentences, including words that contain a listed
English word inside a longer word (``class``, ``Scunthorpe``, ``shiitake``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).parent
WORDS_DIR = HERE / "words"
EVASION = HERE / "evasion.jsonl"

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e"]
PUNCT = ["@", ".", "-", " ", "、", "*", "_", "·", "，", "|", "/", "\u3000", "~"]
TRADITIONAL = {"马": "馬", "残": "殘", "脑": "腦", "轮": "輪", "事": "事", "约": "約"}
CYRILLIC = {"a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "y": "у"}


def listed_words() -> list[tuple[str, str]]:
    out = []
    for file in sorted(WORDS_DIR.glob("*.txt")):
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                out.append((line.strip(), file.stem))
    return out


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def _math_bold(s: str) -> str:
    return "".join(chr(0x1D41A + ord(c) - 97) if "a" <= c <= "z" else c for c in s)


def _circled(s: str) -> str:
    return "".join(chr(0x24D0 + ord(c) - 97) if "a" <= c <= "z" else c for c in s)


def variants(word: str) -> Iterator[tuple[str, str]]:
    """``(how, text)`` disguises of ``word``."""
    yield "plain", word
    yield "upper", word.upper()
    yield "title", word.title()
    yield "fullwidth", _fullwidth(word)
    yield "fullwidth-upper", _fullwidth(word.upper())
    for zw in ZERO_WIDTH:
        yield f"zero-width U+{ord(zw):04X}", zw.join(word)
    for p in PUNCT:
        yield f"punct {p!r}", p.join(word)
    yield (
        "mixed",
        "".join(
            c + ZERO_WIDTH[i % len(ZERO_WIDTH)] + PUNCT[i % len(PUNCT)]
            for i, c in enumerate(word)
        ).rstrip("".join(PUNCT + ZERO_WIDTH)),
    )
    if any(c in TRADITIONAL for c in word):
        yield "traditional", "".join(TRADITIONAL.get(c, c) for c in word)
    if word.isascii():
        yield "cyrillic", "".join(CYRILLIC.get(c, c) for c in word)
        yield "math-bold", _math_bold(word)
        yield "circled", _circled(word)
        yield (
            "alternating-case",
            "".join(c.upper() if i % 2 else c for i, c in enumerate(word)),
        )


def evasion_cases() -> list[dict[str, str]]:
    cases = []
    for word, category in listed_words():
        for how, text in variants(word):
            for before, after in (("", ""), ("你好，", "。谢谢"), ("Hi ", " there.")):
                cases.append(
                    {
                        "word": word,
                        "category": category,
                        "how": how,
                        "text": before + text + after,
                    }
                )
    return cases


def load_evasion() -> list[dict[str, str]]:
    with EVASION.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


ZH_SUBJECTS = [
    "我",
    "我们",
    "老师",
    "小明",
    "妈妈",
    "同事们",
    "这家公司",
    "孩子们",
    "大家",
    "他",
]
ZH_TIMES = ["今天", "明天早上", "周末", "昨天晚上", "下个月"]
ZH_ACTIONS = [
    "去公园散步",
    "学习数学和物理",
    "吃了一碗牛肉面",
    "看了一部老电影",
    "开会讨论项目进度",
    "在图书馆读书",
    "参加了一场音乐会",
    "去超市买水果和蔬菜",
    "写了一篇关于历史的文章",
    "打扫房间并整理书架",
    "坐马车游览古城",
    "学习如何保护大脑健康",
]
ZH_ENDS = ["。", "！", "，感觉很开心。", "，天气不错。", "，然后回家休息了。"]
EN_SUBJECTS = [
    "I",
    "We",
    "The teacher",
    "My sister",
    "The class",
    "Our team",
    "Everyone",
    "He",
]
EN_TIMES = ["today", "this morning", "on the weekend", "last night", "next month"]
EN_ACTIONS = [
    "assumed the passage was a classic",
    "visited Scunthorpe and Essex",
    "cooked shiitake mushrooms with basil",
    "read Dickens in the assembly hall",
    "studied the class hierarchy of the assassin bug",
    "said this hit song is great",
    "discussed the cocktail menu",
    "went to the bass guitar lesson",
    "met a skilled craftsman",
    "planned a trip to Hancock county",
    "watched a documentary about cunning foxes",
    "fixed the bitcoin wallet",
]
EN_ENDS = [".", "!", ", and it was fun.", " again.", "?"]


def benign_sentences() -> list[str]:
    """Ordinary sentences (Chinese, traditional Chinese and English), deterministic."""
    zh = [
        f"{s}{t}{a}{e}"
        for s, t, a, e in itertools.product(ZH_SUBJECTS, ZH_TIMES, ZH_ACTIONS, ZH_ENDS)
    ]
    en = [
        f"{s} {t} {a}{e}"
        for s, t, a, e in itertools.product(EN_SUBJECTS, EN_TIMES, EN_ACTIONS, EN_ENDS)
    ]
    trad = [
        s.replace("马", "馬").replace("脑", "腦").replace("书", "書") for s in zh[::7]
    ]
    return zh + en + trad


if __name__ == "__main__":
    with EVASION.open("w", encoding="utf-8") as fh:
        for case in evasion_cases():
            fh.write(json.dumps(case, ensure_ascii=True) + "\n")
    print(f"{len(evasion_cases())} cases written to {EVASION}")
