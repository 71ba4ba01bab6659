"""Keyword auto-replies without NoneBot: exact, contains and regex rules, scoped
globally or to one group, the highest priority winning.

Texts and patterns are compared after light normalisation (NFKC, case folding,
traditional -> simplified, format characters dropped; punctuation is kept).
``exact`` rules are a dict lookup, all ``contains`` rules share one Aho-Corasick
automaton (ahocorasick_rs), so the cost does not grow with the number of rules.
``regex`` rules use the ``regex`` package: precompiled, checked when added (length,
nested quantifiers such as ``(a+)+``), run only on the first ``max_input`` characters
and with a time limit per message; a rule that times out counts as no match.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import ahocorasick_rs
import regex

log = logging.getLogger(__name__)

KINDS = ("exact", "contains", "regex")
MAX_PATTERN = 300
_RANK = {"exact": 0, "contains": 1, "regex": 2}
#: a quantified group that itself contains a quantifier: (a+)+, (\w*x)*, (a|b+){2,}
_NESTED = re.compile(
    r"\((?:[^()\\]|\\.)*(?:[+*]|\{\d+,?\d*\})(?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d+,\d*\})"
)


#: format characters and lone surrogates (broken JSON) are dropped
_FORMAT = regex.compile(r"[\p{Cf}\p{Cs}]+")


@lru_cache(maxsize=1)
def _traditional() -> dict[int, str]:
    import zhconv

    zhconv.loaddict()
    table: dict[str, str] = zhconv.zhconv.zhcdicts["zh2Hans"]
    return {ord(k): v for k, v in table.items() if len(k) == 1 and len(v) == 1}


def normalize(text: str) -> str:
    """NFKC, case folding, traditional -> simplified, format characters dropped,
    outer spaces stripped (punctuation is kept: keywords may contain it)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    stripped: str = _FORMAT.sub("", text)
    return stripped.translate(_traditional()).strip()


class RuleError(ValueError):
    """A rule that cannot be added; the message says why."""


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: str
    reply: str
    match: str = "contains"
    scope: str = "global"
    priority: int = 0
    id: int = 0

    @property
    def order(self) -> tuple[int, int, int]:
        """Sort key: higher priority first, then exact, contains, regex, then older."""
        return (-self.priority, _RANK[self.match], self.id)


def validate_regex(pattern: str) -> Any:
    """Compile ``pattern`` or raise :class:`RuleError` (too long, nested
    quantifiers, or not a valid expression)."""
    if len(pattern) > MAX_PATTERN:
        raise RuleError(f"regex longer than {MAX_PATTERN} characters")
    if _NESTED.search(pattern):
        raise RuleError("nested quantifiers (like (a+)+) can take exponential time")
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.V0)
    except regex.error as exc:
        raise RuleError(f"invalid regex: {exc}") from None


def validate(rule: Rule) -> None:
    if rule.match not in KINDS:
        raise RuleError(f"match must be one of {', '.join(KINDS)}")
    if not rule.pattern.strip():
        raise RuleError("empty pattern")
    if not rule.reply:
        raise RuleError("empty reply")
    if rule.match == "regex":
        validate_regex(rule.pattern)


class KeywordIndex:
    """Every enabled rule, indexed for one pass over a message."""

    def __init__(
        self,
        rules: Iterable[Rule],
        *,
        max_input: int = 2000,
        regex_timeout: float = 0.05,
    ) -> None:
        self.max_input = max_input
        self.regex_timeout = regex_timeout
        self._exact: dict[str, list[Rule]] = {}
        contains: dict[str, list[Rule]] = {}
        self._regex: list[tuple[Rule, Any]] = []
        self.rejected: list[tuple[Rule, str]] = []
        for rule in rules:
            try:
                validate(rule)
            except RuleError as exc:
                log.warning("keyword rule %s skipped: %s", rule.id, exc)
                self.rejected.append((rule, str(exc)))
                continue
            key = normalize(rule.pattern)
            if rule.match == "exact":
                self._exact.setdefault(key, []).append(rule)
            elif rule.match == "contains":
                contains.setdefault(key, []).append(rule)
            else:
                self._regex.append((rule, validate_regex(rule.pattern)))
        self._contains_rules = list(contains.values())
        self._ac = (
            ahocorasick_rs.AhoCorasick(
                list(contains),
                matchkind=ahocorasick_rs.MatchKind.Standard,
                implementation=ahocorasick_rs.Implementation.ContiguousNFA,
            )
            if contains
            else None
        )
        self._regex.sort(key=lambda item: item[0].order)
        self.size = (
            sum(map(len, self._exact.values()))
            + sum(map(len, self._contains_rules))
            + len(self._regex)
        )

    def find(self, text: str, group_key: str | None = None) -> Rule | None:
        """The winning rule for ``text`` in ``group_key`` (or globally), if any."""
        scopes = {"global", group_key} if group_key else {"global"}
        text = text[: self.max_input]
        norm = normalize(text)
        candidates = [r for r in self._exact.get(norm, ()) if r.scope in scopes]
        if self._ac is not None and norm:
            for index in {
                i
                for i, _s, _e in self._ac.find_matches_as_indexes(
                    norm, overlapping=True
                )
            }:
                candidates.extend(
                    r for r in self._contains_rules[index] if r.scope in scopes
                )
        best = min(candidates, key=lambda r: r.order, default=None)
        deadline = time.monotonic() + self.regex_timeout
        for rule, compiled in self._regex:
            if best is not None and rule.order >= best.order:
                break  # sorted: no later regex can win
            if rule.scope not in scopes:
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("keyword regexes ran out of time on one message")
                break
            try:
                if compiled.search(text, timeout=left) is not None:
                    best = rule
                    break
            except TimeoutError:
                log.warning("keyword regex %s timed out", rule.id)
        return best
