"""Text from the platforms made valid at the edge.

JSON may carry lone UTF-16 surrogates (``"\\ud83d"``); Python decodes them into a
``str`` that no UTF-8 encoder accepts, so the first database write, log sink or
socket that encodes it fails. Every adapter's text is cleaned once, where it enters:
:func:`clean_text` for a string, :func:`clean_tree` for a parsed event, and
``ChatContext`` cleans what an adapter puts in it.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["REPLACEMENT", "clean_text", "clean_tree"]

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
_LEAVES = frozenset({int, float, bool, type(None), bytes})


def clean_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (a pair that JSON
    escaped in two halves becomes the character it encodes)."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    # pairs written as two escapes are joined; what is left alone is replaced
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def clean_tree(value: Any, _depth: int = 0) -> Any:
    """Clean every string inside ``value`` (dicts, lists, pydantic models, message
    segments), in place where the container is mutable; returns the cleaned value."""
    kind = type(value)
    if kind is str:
        return clean_text(value)
    if kind in _LEAVES or _depth > 32:
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        for i, item in enumerate(value):
            value[i] = clean_tree(item, _depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            value[key] = clean_tree(item, _depth + 1)
    elif isinstance(value, tuple):
        return tuple(clean_tree(item, _depth + 1) for item in value)
    else:
        fields = getattr(value, "__dict__", None)
        if isinstance(fields, dict):  # pydantic models, dataclasses, segments
            for key, item in fields.items():
                cleaned = clean_tree(item, _depth + 1)
                if cleaned is not item:
                    fields[key] = cleaned
    return value
