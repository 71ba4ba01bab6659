"""The bot's own texts exist in both languages, with the same fields."""

from __future__ import annotations

import string

from bot.i18n import LOCALES, TEXTS, normalize_locale, t


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_text_in_both_languages_with_the_same_fields() -> None:
    for key, texts in TEXTS.items():
        assert set(texts) == set(LOCALES), key
        assert all(texts.values()), key
        assert _fields(texts["zh-CN"]) == _fields(texts["en"]), key


def test_lookup() -> None:
    assert normalize_locale("en-US") == "en"
    assert normalize_locale(None) == "zh-CN"
    assert normalize_locale("fr") == "zh-CN"
    assert t("more", "en", n=3) == "... and 3 more"
    assert t("more", "zh-CN", n=3) == "……另有 3 条"
    # a value that looks like a format field is inserted as it is
    assert t("usage", "en", usage="{0.__class__}") == "Usage: {0.__class__}"
