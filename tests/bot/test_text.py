"""Text made valid at the edge: lone surrogates replaced wherever text enters
(issue 11, F1; the whole-bot case is in ``test_text_process.py``)."""

from __future__ import annotations

import json
from typing import Any

from nonebot.adapters.onebot.v11 import Message, MessageSegment

from bot.context import ChatContext
from bot.text import REPLACEMENT, clean_text, clean_tree


def test_clean_text_replaces_lone_surrogates_only() -> None:
    assert clean_text("x \ud83d y") == f"x {REPLACEMENT} y"
    assert clean_text("\udc00中文") == f"{REPLACEMENT}中文"
    assert clean_text("tail \ud83d") == f"tail {REPLACEMENT}"
    # a pair written as two JSON escapes is the character it encodes
    assert clean_text(json.loads('"\\ud83d\\ude00"')) == "😀"
    for fine in ("plain", "中文 😀", ""):
        assert clean_text(fine) is fine
    for hostile in ("\ud800" * 1000, "\udfff\ud800", "a\ud83d\ud83d"):
        clean_text(hostile).encode("utf-8")  # raises if anything is left


def test_clean_tree_reaches_models_segments_and_containers() -> None:
    message = Message([MessageSegment.text("seg \ud83d")])
    tree: dict[str, Any] = {
        "a": ["x\udc00", ("t\ud800",)],
        "m": message,
        "n": 5,
    }
    clean_tree(tree)
    assert tree["a"][0] == f"x{REPLACEMENT}"
    assert tree["a"][1] == (f"t{REPLACEMENT}",)
    assert message[0].data["text"] == f"seg {REPLACEMENT}"
    assert tree["n"] == 5
    json.dumps(tree["a"], ensure_ascii=False).encode("utf-8")


def test_chat_context_cleans_what_an_adapter_passes() -> None:
    ctx = ChatContext(
        platform="qq", user_id="u\ud83d", text="hi \ud83d", group_id="g\udc00"
    )
    for value in (ctx.text, ctx.user_id, ctx.group_id, ctx.session_id):
        assert value is not None
        value.encode("utf-8")
    assert ctx.text == f"hi {REPLACEMENT}"
