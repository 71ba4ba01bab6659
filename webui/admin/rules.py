"""Admin API: sensitive words (with a "test this text" box), keyword rules (with
hit counts), and token budgets (usage and overrides)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response
from tortoise.exceptions import IntegrityError

from bot.runtime import get_runtime
from bot.store.models import BudgetOverride, KeywordRule, SensitiveWord

from . import audit
from .bridge import plugin
from .deps import Limit, Offset, Reader, Search, Writer, actor, page
from .schemas import (
    BudgetList,
    BudgetOut,
    KeywordIn,
    KeywordList,
    KeywordOut,
    KeywordPatch,
    Limits,
    WordHit,
    WordImport,
    WordIn,
    WordList,
    WordOut,
    WordTest,
    WordTestResult,
)

router = APIRouter()

WORDS_CHANNEL = "sensitive_words"
KEYWORDS_CHANNEL = "keywords"
BUDGETS_CHANNEL = "budgets"


# -- sensitive words --------------------------------------------------------------------


def _word(w: SensitiveWord) -> WordOut:
    return WordOut(
        id=w.id,
        word=w.word,
        category=w.category,
        created_by=w.created_by,
        created_at=w.created_at,
    )


def _categories() -> dict[str, str]:
    module = plugin("sensitive_words")
    if module is None:
        return {}
    config = module.config
    return {"*": config.sensitive_words_default_action} | dict(
        config.sensitive_words_categories
    )


@router.get("/sensitive-words", tags=["sensitive-words"])
async def list_words(
    session: Reader,
    q: Search = "",
    category: Annotated[str, Query(max_length=64)] = "",
    offset: Offset = 0,
    limit: Limit = 50,
) -> WordList:
    query = SensitiveWord.all()
    if q:
        query = query.filter(word__icontains=q)
    if category:
        query = query.filter(category=category)
    total, rows = await page(query, ("category", "word"), offset, limit)
    return WordList(
        total=total,
        offset=offset,
        limit=limit,
        items=[_word(w) for w in rows],
        categories=_categories(),
    )


@router.post("/sensitive-words", status_code=201, tags=["sensitive-words"])
async def add_word(body: WordIn, session: Writer) -> WordOut:
    word = body.word.strip()
    if not word:
        raise HTTPException(422, "a word is not blank")
    row, created = await SensitiveWord.get_or_create(
        word=word, category=body.category, defaults={"created_by": actor(session)}
    )
    if created:
        await audit.record(
            actor(session), "word.add", f"word:{body.category}:{word}", None,
            {"word": word, "category": body.category},
            channel=WORDS_CHANNEL,
            message={"op": "add", "word": word, "category": body.category},
        )  # fmt: skip
    return _word(row)


@router.post("/sensitive-words/import", tags=["sensitive-words"])
async def import_words(body: WordImport, session: Writer) -> dict[str, int]:
    words = sorted({w.strip()[:191] for w in body.words if w.strip()})
    existing = set(
        await SensitiveWord.filter(category=body.category, word__in=words).values_list(
            "word", flat=True
        )
    )
    new = [w for w in words if w not in existing]
    if new:
        try:
            await SensitiveWord.bulk_create(
                [
                    SensitiveWord(
                        word=w, category=body.category, created_by=actor(session)
                    )
                    for w in new
                ]
            )
        except IntegrityError:
            raise HTTPException(409, "words changed meanwhile, try again") from None
        await audit.record(
            actor(session), "word.import", f"words:{body.category}", None,
            {"category": body.category, "added": len(new)},
            channel=WORDS_CHANNEL, message={"op": "reload"},
        )  # fmt: skip
    return {"added": len(new), "skipped": len(words) - len(new)}


@router.get("/sensitive-words/export", tags=["sensitive-words"])
async def export_words(
    session: Reader, category: Annotated[str, Query(max_length=64)] = ""
) -> dict[str, list[str]]:
    query = SensitiveWord.filter(category=category) if category else SensitiveWord.all()
    out: dict[str, list[str]] = {}
    for word, cat in await query.order_by("word").values_list("word", "category"):
        out.setdefault(str(cat), []).append(str(word))
    return out


@router.delete("/sensitive-words/{word_id}", status_code=204, tags=["sensitive-words"])
async def delete_word(word_id: int, session: Writer) -> Response:
    row = await SensitiveWord.get_or_none(id=word_id)
    if row is None:
        raise HTTPException(404, "no such word")
    await row.delete()
    await audit.record(
        actor(session), "word.del", f"word:{row.category}:{row.word}",
        {"word": row.word, "category": row.category}, None,
        channel=WORDS_CHANNEL,
        message={"op": "del", "word": row.word, "category": row.category},
    )  # fmt: skip
    return Response(status_code=204)


@router.post("/sensitive-words/test", tags=["sensitive-words"])
async def test_words(body: WordTest, session: Reader) -> WordTestResult:
    """What this instance's running filter does with ``text`` right now."""
    module = plugin("sensitive_words")
    if module is None:
        raise HTTPException(409, "the sensitive_words plugin is not enabled")
    from plugins.sensitive_words.core import check

    matcher = await module.service.get()
    verdict = check(matcher, body.text)
    return WordTestResult(
        normalized=matcher.normalizer.normalize(body.text),
        action=verdict.action.name.lower() if verdict.action else None,
        result=verdict.text,
        hits=[
            WordHit(
                word=h.word,
                category=h.category,
                action=h.action.name.lower(),
                start=h.start,
                end=h.end,
            )
            for h in verdict.hits
        ],
    )


# -- keywords ---------------------------------------------------------------------------


def _rule(r: KeywordRule) -> KeywordOut:
    return KeywordOut(
        id=r.id,
        scope=r.scope,
        match=r.match,
        pattern=r.pattern,
        reply=r.reply,
        priority=r.priority,
        enabled=r.enabled,
        hit_count=r.hit_count,
        last_hit_at=r.last_hit_at,
    )


def _rule_state(r: KeywordRule) -> dict[str, Any]:
    return _rule(r).model_dump(exclude={"hit_count", "last_hit_at"})


def _validate(match: str, pattern: str, reply: str) -> None:
    from plugins.keywords.core import Rule, RuleError, validate

    try:
        validate(Rule(pattern=pattern, reply=reply, match=match))
    except (RuleError, ValueError) as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/keywords", tags=["keywords"])
async def list_keywords(
    session: Reader,
    q: Search = "",
    scope: Annotated[str, Query(max_length=191)] = "",
    offset: Offset = 0,
    limit: Limit = 50,
) -> KeywordList:
    query = KeywordRule.all()
    if q:
        query = query.filter(pattern__icontains=q)
    if scope:
        query = query.filter(scope=scope)
    total, rows = await page(query, ("-priority", "id"), offset, limit)
    return KeywordList(
        total=total, offset=offset, limit=limit, items=[_rule(r) for r in rows]
    )


@router.post("/keywords", status_code=201, tags=["keywords"])
async def add_keyword(body: KeywordIn, session: Writer) -> KeywordOut:
    _validate(body.match, body.pattern, body.reply)
    row = await KeywordRule.create(**body.model_dump())
    await audit.record(
        actor(session), "keyword.add", f"keyword:{row.id}", None, _rule_state(row),
        channel=KEYWORDS_CHANNEL, message={"op": "add", "id": row.id},
    )  # fmt: skip
    return _rule(row)


@router.patch("/keywords/{rule_id}", tags=["keywords"])
async def patch_keyword(
    rule_id: int, body: KeywordPatch, session: Writer
) -> KeywordOut:
    row = await KeywordRule.get_or_none(id=rule_id)
    if row is None:
        raise HTTPException(404, "no such rule")
    before = _rule_state(row)
    changes = body.model_dump(exclude_none=True)
    for name, value in changes.items():
        setattr(row, name, value)
    _validate(row.match, row.pattern, row.reply)
    await row.save()
    await audit.record(
        actor(session), "keyword.update", f"keyword:{row.id}", before,
        _rule_state(row),
        channel=KEYWORDS_CHANNEL, message={"op": "update", "id": row.id},
    )  # fmt: skip
    return _rule(row)


@router.delete("/keywords/{rule_id}", status_code=204, tags=["keywords"])
async def delete_keyword(rule_id: int, session: Writer) -> Response:
    row = await KeywordRule.get_or_none(id=rule_id)
    if row is None:
        raise HTTPException(404, "no such rule")
    before = _rule_state(row)
    await row.delete()
    await audit.record(
        actor(session), "keyword.del", f"keyword:{rule_id}", before, None,
        channel=KEYWORDS_CHANNEL, message={"op": "del", "id": rule_id},
    )  # fmt: skip
    return Response(status_code=204)


# -- budgets ----------------------------------------------------------------------------

BudgetKind = Annotated[str, Path(pattern="^(user|group)$")]
ScopeKey = Annotated[
    str, Path(min_length=3, max_length=191, pattern=r"^[a-z0-9_]+:.+$")
]


async def _budget(kind: str, key: str, override: BudgetOverride | None) -> BudgetOut:
    module = plugin("token_budget")
    day = month = 0
    if module is not None:
        from plugins.token_budget.usage import usage_of

        used = await usage_of(
            get_runtime().state, module.config, kind, key, override=override
        )
        day, month = used.day_used, used.month_used
    return BudgetOut(
        kind=kind,  # type: ignore[arg-type]
        key=key,
        daily_limit=override.daily_limit if override else None,
        monthly_limit=override.monthly_limit if override else None,
        day_used=day,
        month_used=month,
    )


@router.get("/budgets", tags=["budgets"])
async def list_budgets(
    session: Reader, q: Search = "", offset: Offset = 0, limit: Limit = 50
) -> BudgetList:
    """The overrides, each with today's and this month's usage."""
    query = BudgetOverride.filter(scope_key__icontains=q) if q else BudgetOverride.all()
    total, rows = await page(query, ("scope_kind", "scope_key"), offset, limit)
    module = plugin("token_budget")
    defaults: dict[str, int] = {}
    if module is not None:
        c = module.config
        defaults = {
            "user_daily": c.token_budget_user_daily,
            "user_monthly": c.token_budget_user_monthly,
            "group_daily": c.token_budget_group_daily,
            "group_monthly": c.token_budget_group_monthly,
        }
    items = [await _budget(r.scope_kind, r.scope_key, r) for r in rows]
    return BudgetList(
        total=total, offset=offset, limit=limit, items=items, defaults=defaults
    )


@router.get("/budgets/{kind}/{key}", tags=["budgets"])
async def get_budget(kind: BudgetKind, key: ScopeKey, session: Reader) -> BudgetOut:
    override = await BudgetOverride.get_or_none(scope_kind=kind, scope_key=key)
    return await _budget(kind, key, override)


@router.put("/budgets/{kind}/{key}", tags=["budgets"])
async def put_budget(
    kind: BudgetKind, key: ScopeKey, body: Limits, session: Writer
) -> BudgetOut:
    old = await BudgetOverride.get_or_none(scope_kind=kind, scope_key=key)
    before = {"daily": old.daily_limit, "monthly": old.monthly_limit} if old else None
    row, _ = await BudgetOverride.update_or_create(
        scope_kind=kind,
        scope_key=key,
        defaults={"daily_limit": body.daily, "monthly_limit": body.monthly},
    )
    await audit.record(
        actor(session), "budget.set", f"budget:{kind}:{key}", before,
        {"daily": body.daily, "monthly": body.monthly},
        channel=BUDGETS_CHANNEL, message={"kind": kind, "key": key},
    )  # fmt: skip
    return await _budget(kind, key, row)


@router.delete("/budgets/{kind}/{key}", status_code=204, tags=["budgets"])
async def delete_budget(kind: BudgetKind, key: ScopeKey, session: Writer) -> Response:
    old = await BudgetOverride.get_or_none(scope_kind=kind, scope_key=key)
    if old is None:
        raise HTTPException(404, "no override")
    await old.delete()
    await audit.record(
        actor(session), "budget.delete", f"budget:{kind}:{key}",
        {"daily": old.daily_limit, "monthly": old.monthly_limit}, None,
        channel=BUDGETS_CHANNEL, message={"kind": kind, "key": key},
    )  # fmt: skip
    return Response(status_code=204)
