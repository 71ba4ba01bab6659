"""The sensitive-word automaton, the input check and the streaming output filter,
against the evasion corpus and the benign corpus."""

from __future__ import annotations

import random
from types import ModuleType
from typing import Any

import pytest
import sw_corpus


@pytest.fixture(scope="module")
def core(plugins_loaded: None) -> ModuleType:
    from plugins.sensitive_words import core

    return core


@pytest.fixture(scope="module")
def matcher(core: ModuleType) -> Any:
    return core.Matcher(
        sw_corpus.listed_words(),
        actions={"politics": core.Action.BLOCK, "adult": core.Action.LOG},
    )


def shown(core: ModuleType, matcher: Any, text: str) -> list[Any]:
    """Hits that must never be shown (``log`` words may)."""
    return [h for h in matcher.find(text) if h.action >= core.Action.MASK]


def stream(core: ModuleType, matcher: Any, pieces: list[str]) -> str:
    f = core.StreamFilter(matcher)
    return "".join(f.feed(p) for p in pieces) + f.flush()


def test_corpus_file_is_current() -> None:
    assert sw_corpus.load_evasion() == sw_corpus.evasion_cases()
    assert len(sw_corpus.load_evasion()) >= 1000


def test_every_listed_variant_is_found(matcher: Any) -> None:
    missed = [
        c
        for c in sw_corpus.load_evasion()
        if c["word"] not in {h.word for h in matcher.find(c["text"])}
    ]
    assert missed == []


def test_no_false_hit_on_benign_sentences(matcher: Any) -> None:
    sentences = sw_corpus.benign_sentences()
    assert len(sentences) >= 1000
    assert sum(any("\u4e00" <= ch <= "\u9fff" for ch in s) for s in sentences) >= 500
    assert sum(s.isascii() for s in sentences) >= 500
    hits = {s: matcher.find(s) for s in sentences}
    assert {s: h for s, h in hits.items() if h} == {}


def test_mask_replaces_exactly_the_original_characters(core: ModuleType) -> None:
    m = core.Matcher([("傻冒", "insult"), ("fuck", "insult")])
    assert core.check(m, "你真是个傻@冒啊").text == "你真是个***啊"
    assert core.check(m, "ｆ\u200bU.c k off").text == "******* off"
    assert core.check(m, "𝐟𝐮𝐜𝐤!").text == "****!"
    assert core.check(m, "傻冒傻冒").text == "****"


def test_actions_by_category(core: ModuleType, matcher: Any) -> None:
    blocked = core.check(matcher, "法輪功好")
    assert blocked.action is core.Action.BLOCK
    assert blocked.text == "法輪功好"  # a blocked text is never shown, so unchanged
    logged = core.check(matcher, "约炮吗")
    assert logged.action is core.Action.LOG
    assert logged.text == "约炮吗"
    masked = core.check(matcher, "你这个脑残")
    assert (masked.action, masked.text) == (core.Action.MASK, "你这个**")
    # the strongest action of all hits wins
    assert core.check(matcher, "脑残法轮功").action is core.Action.BLOCK


def test_ascii_words_match_at_word_boundaries_only(core: ModuleType) -> None:
    m = core.Matcher([("ass", "x"), ("shit", "x")])
    for benign in ("class", "assume", "this hit", "shiitake", "Glass."):
        assert m.find(benign) == [], benign
    for bad in ("my ass", "a.s.s", "ＡＳＳ!", "holy shit", "s h i t"):
        assert m.find(bad), bad
    loose = core.Matcher([("ass", "x")], ascii_boundary=False)
    assert loose.find("class")


def test_traditional_folding_can_be_turned_off(core: ModuleType) -> None:
    norm = core.Normalizer(traditional=False)
    m = core.Matcher([("法轮功", "p")], normalizer=norm)
    assert m.find("法轮功")
    assert not m.find("法輪功")


def test_stream_split_at_every_position(core: ModuleType, matcher: Any) -> None:
    leaks = []
    for case in sw_corpus.load_evasion():
        text = case["text"]
        for k in range(1, len(text)):
            out = stream(core, matcher, [text[:k], text[k:]])
            assert len(out) == len(text)
            if shown(core, matcher, out):
                leaks.append((text, k, out))
    assert leaks == []


def test_stream_one_character_chunks_and_zero_width_between(
    core: ModuleType, matcher: Any
) -> None:
    for case in sw_corpus.load_evasion()[::5]:
        text = case["text"]
        assert not shown(core, matcher, stream(core, matcher, list(text)))
        spaced = [ch + "\u200b" for ch in text]
        assert not shown(core, matcher, stream(core, matcher, spaced))


def test_stream_random_chunks_equal_the_whole_text_check(
    core: ModuleType, matcher: Any
) -> None:
    rng = random.Random(7)
    texts = [c["text"] for c in sw_corpus.load_evasion()[::11]]
    texts += sw_corpus.benign_sentences()[::50]
    for text in texts:
        cuts = sorted(rng.sample(range(1, len(text)), min(4, len(text) - 1)))
        pieces = [
            text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)
        ]
        out = stream(core, matcher, pieces)
        hits = [h for h in matcher.find(text) if h.action >= core.Action.MASK]
        assert out == core.mask(text, hits)


def test_benign_sentences_pass_the_stream_filter_unchanged(
    core: ModuleType, matcher: Any
) -> None:
    rng = random.Random(3)
    changed = []
    for text in sw_corpus.benign_sentences():
        pieces, i = [], 0
        while i < len(text):
            n = rng.randint(1, 4)
            pieces.append(text[i : i + n])
            i += n
        out = stream(core, matcher, pieces)
        if out != text:
            changed.append((text, out))
    assert changed == []


def test_stream_holds_back_only_longest_minus_one(core: ModuleType) -> None:
    m = core.Matcher([("abcd", "x"), ("傻冒", "x")])
    f = core.StreamFilter(m)
    # 3 normalised characters held; the space normalises to nothing
    assert f.feed("hello wor") == "hello "
    assert f.feed("ld") == "wo"
    assert f.feed(" ab") == "rl"
    assert f.feed("cd!") == "d *"
    assert f.flush() == "***!"


def test_stream_masks_a_word_across_many_chunks(core: ModuleType) -> None:
    m = core.Matcher([("kill yourself", "x")])
    pieces = ["you should ", "ki", "ll ", "y", "our", "self", " now"]
    out = stream(core, m, pieces)
    assert out == "you should ************* now"


def test_stream_pending_ascii_boundary_is_decided_by_the_next_chunk(
    core: ModuleType,
) -> None:
    m = core.Matcher([("ass", "x")])
    assert stream(core, m, ["the cl", "ass", "ic"]) == "the classic"
    assert stream(core, m, ["my ", "ass", "!"]) == "my ***!"
    assert stream(core, m, ["my ", "ass"]) == "my ***"


def test_normaliser_keeps_offsets_for_astral_and_tag_characters(
    core: ModuleType,
) -> None:
    m = core.Matcher([("傻冒", "x")])
    text = "😀傻\U000e0041冒𠀀"
    assert core.check(m, text).text == "😀***𠀀"


def test_lone_surrogates_are_dropped_not_fatal(core: ModuleType) -> None:
    m = core.Matcher([("傻冒", "x")])
    assert core.check(m, "a\ud800傻冒").text == "a\ud800**"
    assert core.check(m, "傻\udfff冒").text == "***"
    f = core.StreamFilter(m)
    assert f.feed("傻\udfff") + f.feed("冒!") + f.flush() == "***!"
