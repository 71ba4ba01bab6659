"""Admin API: groups (wake mode, persona, model, history, budget, rate limit,
plugins) and the named personas they use.

A group's ``plugins`` are the plugin manager's per-group switches
(:mod:`bot.plugin_store`, enforced by the access guard), the same rows the plugins
page and ``/plugin disable`` change: there is no separate list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response
from tortoise.expressions import Q

from bot import groups as kernel_groups
from bot import plugin_store
from bot.runtime import get_runtime
from bot.store.models import BudgetOverride, GroupSetting, Persona, PluginSwitch

from . import audit
from .deps import Limit, Offset, Reader, Search, Writer, actor, page
from .plugins import plugin_list
from .schemas import GroupList, GroupOut, GroupPatch, Limits, PersonaIn, PersonaOut

router = APIRouter()
GroupKey = Annotated[
    str, Path(min_length=3, max_length=191, pattern=r"^[a-z0-9_]+:.+$")
]


async def _view(row: GroupSetting) -> GroupOut:
    override = await BudgetOverride.get_or_none(
        scope_kind="group", scope_key=row.group_key
    )
    switches = await PluginSwitch.filter(scope=row.group_key).values_list(
        "plugin", "enabled"
    )
    return GroupOut(
        key=row.group_key,
        name=row.name,
        last_seen_at=row.last_seen_at,
        settings=kernel_groups.parse(row.settings),
        applied=kernel_groups.settings_for(row.group_key),
        budget=Limits(
            daily=override.daily_limit if override else None,
            monthly=override.monthly_limit if override else None,
        ),
        plugins={str(p): bool(e) for p, e in switches},
    )


@router.get("/groups", tags=["groups"])
async def list_groups(
    session: Reader, q: Search = "", offset: Offset = 0, limit: Limit = 50
) -> GroupList:
    query = GroupSetting.all()
    if q:
        query = query.filter(Q(group_key__icontains=q) | Q(name__icontains=q))
    total, rows = await page(query, ("group_key",), offset, limit)
    return GroupList(
        total=total,
        offset=offset,
        limit=limit,
        items=[await _view(r) for r in rows],
    )


@router.get("/groups/{key}", tags=["groups"])
async def get_group(key: GroupKey, session: Reader) -> GroupOut:
    row = await GroupSetting.get_or_none(group_key=key)
    if row is None:
        raise HTTPException(404, "no such group")
    return await _view(row)


async def apply_group_patch(
    who: str, key: str, body: GroupPatch
) -> tuple[GroupOut, GroupOut | None]:
    """Write ``body`` for group ``key`` (created if new), audit it, publish it; also
    used by the chat commands. Returns (after, before)."""
    if body.plugins is not None:  # checked before anything is written
        loaded = {item.name for item in (await plugin_list()).items}
        unknown = sorted(set(body.plugins) - loaded)
        if unknown:
            raise HTTPException(400, f"no such plugin loaded: {', '.join(unknown)}")
    row, created = await GroupSetting.get_or_create(group_key=key)
    before = None if created else await _view(row)
    state = get_runtime().state
    if body.name is not None:
        row.name = body.name
    if body.settings is not None:
        row.settings = kernel_groups.dump(body.settings)
    await row.save()
    if body.budget is not None:
        await BudgetOverride.update_or_create(
            scope_kind="group",
            scope_key=key,
            defaults={
                "daily_limit": body.budget.daily,
                "monthly_limit": body.budget.monthly,
            },
        )
        await state.publish("budgets", {"kind": "group", "key": key})
    if body.plugins is not None:
        # the plugin manager's own per-group switches (what the access guard reads)
        for plugin, enabled in body.plugins.items():
            switch = plugin_store.enable if enabled else plugin_store.disable
            await switch(plugin, key, state=state)
    after = await _view(row)
    await audit.record(
        who, "group.update", f"group:{key}",
        before.model_dump() if before else None, after.model_dump(),
        channel=kernel_groups.CHANNEL, message={"key": key},
    )  # fmt: skip
    return after, before


@router.patch("/groups/{key}", tags=["groups"])
async def patch_group(key: GroupKey, body: GroupPatch, session: Writer) -> GroupOut:
    after, _ = await apply_group_patch(actor(session), key, body)
    return after


def _persona(p: Persona) -> PersonaOut:
    return PersonaOut(name=p.name, prompt=p.prompt, updated_at=p.updated_at)


@router.get("/personas", tags=["personas"])
async def list_personas(session: Reader) -> list[PersonaOut]:
    return [_persona(p) for p in await Persona.all().order_by("name").limit(1000)]


@router.put("/personas/{name}", tags=["personas"])
async def put_persona(
    name: Annotated[str, Path(max_length=64)], body: PersonaIn, session: Writer
) -> PersonaOut:
    if body.name != name:
        raise HTTPException(400, "the name in the path and the body differ")
    old = await Persona.get_or_none(name=name)
    before: dict[str, Any] | None = {"prompt": old.prompt} if old else None
    row, _ = await Persona.update_or_create(name=name, defaults={"prompt": body.prompt})
    await audit.record(
        actor(session), "persona.save", f"persona:{name}", before,
        {"prompt": body.prompt},
        channel=kernel_groups.CHANNEL, message={"personas": True},
    )  # fmt: skip
    return _persona(row)


@router.delete("/personas/{name}", status_code=204, tags=["personas"])
async def delete_persona(
    name: Annotated[str, Path(max_length=64)], session: Writer
) -> Response:
    row = await Persona.get_or_none(name=name)
    if row is None:
        raise HTTPException(404, "no such persona")
    await row.delete()
    await audit.record(
        actor(session), "persona.delete", f"persona:{name}", {"prompt": row.prompt},
        None, channel=kernel_groups.CHANNEL, message={"personas": True},
    )  # fmt: skip
    return Response(status_code=204)
