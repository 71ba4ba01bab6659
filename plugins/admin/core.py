"""Admin command parsing without NoneBot: each command's arguments become a typed
request or a usage error; nothing here touches the database."""

from __future__ import annotations

from dataclasses import dataclass

#: change-feed channels the other plugins listen on
ACCESS_CHANNEL = "access"
BUDGET_CHANNEL = "budgets"
WORDS_CHANNEL = "sensitive_words"
KEYWORDS_CHANNEL = "keywords"

KEYWORD_KINDS = ("exact", "contains", "regex")


class UsageError(ValueError):
    """Bad arguments; the message is the usage line to show."""


@dataclass(frozen=True, slots=True)
class BanArgs:
    user_key: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BudgetArgs:
    kind: str
    key: str
    daily: int | None
    monthly: int | None


@dataclass(frozen=True, slots=True)
class WordArgs:
    op: str
    word: str
    category: str = "custom"


@dataclass(frozen=True, slots=True)
class KeywordArgs:
    op: str
    match: str = "contains"
    pattern: str = ""
    reply: str = ""
    rule_id: int = 0
    priority: int = 0
    scope: str = "global"


def _user_key(value: str) -> str:
    if ":" not in value or value.startswith(":") or value.endswith(":"):
        raise UsageError("a user key looks like platform:user_id, e.g. qq:12345")
    return value


def parse_ban(args: list[str]) -> BanArgs:
    if not args:
        raise UsageError("/ban <platform:user_id> [reason]")
    return BanArgs(_user_key(args[0]), " ".join(args[1:])[:500])


def parse_unban(args: list[str]) -> str:
    if len(args) != 1:
        raise UsageError("/unban <platform:user_id>")
    return _user_key(args[0])


def _limit(value: str) -> int | None:
    if value in ("-", "default"):
        return None
    try:
        n = int(value.replace("_", "").replace(",", ""))
    except ValueError:
        raise UsageError(f"not a number of tokens: {value}") from None
    if n < 0:
        raise UsageError("limits are 0 (unlimited) or more")
    return n


def parse_budget(args: list[str]) -> BudgetArgs:
    usage = "/budget <user|group> <platform:id> <daily|-> [monthly|-]  (0 = unlimited)"
    if len(args) not in (3, 4) or args[0] not in ("user", "group"):
        raise UsageError(usage)
    return BudgetArgs(
        args[0],
        _user_key(args[1]),
        _limit(args[2]),
        _limit(args[3]) if len(args) == 4 else None,
    )


def parse_word(args: list[str]) -> WordArgs:
    if len(args) not in (2, 3) or args[0] not in ("add", "del"):
        raise UsageError("/word add|del <word> [category]")
    word = args[1].strip()
    if not word or len(word) > 191:
        raise UsageError("a word is 1 to 191 characters")
    return WordArgs(args[0], word, args[2] if len(args) == 3 else "custom")


def parse_keyword(args: list[str]) -> KeywordArgs:
    usage = (
        "/keyword add <exact|contains|regex> <pattern> <reply> "
        "[priority=N] [scope=global|platform:group]  |  /keyword del <id>"
    )
    if len(args) == 2 and args[0] == "del":
        try:
            return KeywordArgs("del", rule_id=int(args[1]))
        except ValueError:
            raise UsageError(usage) from None
    if len(args) < 4 or args[0] != "add" or args[1] not in KEYWORD_KINDS:
        raise UsageError(usage)
    options = {"priority": "0", "scope": "global"}
    rest = list(args[3:])
    while rest and rest[-1].split("=", 1)[0] in options and "=" in rest[-1]:
        name, value = rest.pop().split("=", 1)
        options[name] = value
    if not rest:
        raise UsageError(usage)
    try:
        priority = int(options["priority"])
    except ValueError:
        raise UsageError("priority is a whole number") from None
    return KeywordArgs(
        "add",
        match=args[1],
        pattern=args[2][:500],
        reply=" ".join(rest),
        priority=priority,
        scope=options["scope"],
    )
