"""Admin API: web users and API keys (admin only), platform bans (operators too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response
from tortoise.functions import Count, Max

from bot import auth
from bot.store import flush_pending
from bot.store.models import ApiToken, Ban, Conversation, User

from . import audit
from .deps import (
    AdminReader,
    AdminWriter,
    Limit,
    Offset,
    Reader,
    Search,
    Writer,
    actor,
    page,
)
from .schemas import (
    ApiKeyList,
    ApiKeyOut,
    BanCreate,
    BanList,
    BanOut,
    PlatformUserList,
    PlatformUserOut,
    UserCreate,
    UserList,
    UserOut,
    UserPatch,
)

router = APIRouter()

ACCESS_CHANNEL = "access"


def _user(u: User) -> UserOut:
    return UserOut(
        name=u.name, role=auth.role_of(u), disabled=u.disabled, created_at=u.created_at
    )


def _user_state(u: User) -> dict[str, Any]:
    return {"name": u.name, "role": auth.role_of(u), "disabled": u.disabled}


async def _get_user(name: str) -> User:
    user = await User.get_or_none(name=name[:64])
    if user is None:
        raise HTTPException(404, "no such user")
    return user


@router.get("/users", tags=["users"])
async def list_users(
    session: AdminReader, q: Search = "", offset: Offset = 0, limit: Limit = 50
) -> UserList:
    query = User.filter(name__icontains=q) if q else User.all()
    total, rows = await page(query, ("name",), offset, limit)
    return UserList(
        total=total, offset=offset, limit=limit, items=[_user(u) for u in rows]
    )


@router.post("/users", status_code=201, tags=["users"])
async def create_user(body: UserCreate, session: AdminWriter) -> UserOut:
    try:
        user = await auth.create_user(body.name, body.password, role=body.role)
    except auth.AuthError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    await audit.record(
        actor(session), "user.create", f"user:{user.name}", None, _user_state(user)
    )
    return _user(user)


@router.patch("/users/{name}", tags=["users"])
async def patch_user(name: str, body: UserPatch, session: AdminWriter) -> UserOut:
    user = await _get_user(name)
    before = _user_state(user)
    if user.name == session.user.name and (
        body.disabled or (body.role and body.role != "admin")
    ):
        raise HTTPException(
            409, "you cannot disable yourself or drop your own admin role"
        )
    if body.role is not None:
        await auth.set_role(user, body.role)
    if body.disabled is not None:
        user.disabled = body.disabled
        await user.save(update_fields=["disabled"])
    if body.password is not None:
        try:
            user.password_hash = auth.hash_password(body.password)
        except auth.AuthError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        await user.save(update_fields=["password_hash"])
    after = _user_state(user) | ({"password": "changed"} if body.password else {})
    await audit.record(
        actor(session), "user.update", f"user:{user.name}", before, after
    )
    return _user(user)


@router.delete("/users/{name}", status_code=204, tags=["users"])
async def delete_user(name: str, session: AdminWriter) -> Response:
    user = await _get_user(name)
    if user.name == session.user.name:
        raise HTTPException(409, "you cannot delete yourself")
    before = _user_state(user)
    await user.delete()
    await audit.record(actor(session), "user.delete", f"user:{name}", before, None)
    return Response(status_code=204)


@router.get("/api-keys", tags=["api-keys"])
async def list_api_keys(
    session: AdminReader, q: Search = "", offset: Offset = 0, limit: Limit = 50
) -> ApiKeyList:
    query = ApiToken.all()
    if q:
        query = query.filter(user__name__icontains=q)
    total, rows = await page(query.prefetch_related("user"), ("-id",), offset, limit)
    items = [
        ApiKeyOut(
            id=r.id,
            user=r.user.name,
            name=r.name,
            prefix=r.prefix,
            revoked=r.revoked,
            created_at=r.created_at,
            last_used_at=r.last_used_at,
        )
        for r in rows
    ]
    return ApiKeyList(total=total, offset=offset, limit=limit, items=items)


@router.delete("/api-keys/{key_id}", status_code=204, tags=["api-keys"])
async def revoke_api_key(key_id: int, session: AdminWriter) -> Response:
    row = await ApiToken.get_or_none(id=key_id)
    if row is None:
        raise HTTPException(404, "no such API key")
    before = {"id": row.id, "prefix": row.prefix, "revoked": row.revoked}
    row.revoked = True
    await row.save(update_fields=["revoked"])
    await audit.record(
        actor(session), "api_key.revoke", f"api_key:{row.id}", before,
        before | {"revoked": True},
    )  # fmt: skip
    return Response(status_code=204)


@router.get("/platform-users", tags=["bans"])
async def platform_users(
    session: Reader, q: Search = "", offset: Offset = 0, limit: Limit = 50
) -> PlatformUserList:
    """Users the bot has talked to (from their conversations), newest first, with
    whether they are banned."""
    await flush_pending()  # conversations may still be queued by history's writer
    query = Conversation.all()
    if q:
        query = query.filter(owner__icontains=q)
    grouped = query.annotate(last=Max("updated_at"), n=Count("id")).group_by("owner")
    total = len(await grouped.values_list("owner", flat=True))
    rows = (
        await grouped.order_by("-last")
        .offset(offset)
        .limit(limit)
        .values("owner", "last", "n")
    )
    keys = [str(r["owner"]) for r in rows]
    banned = set(await Ban.filter(user_key__in=keys).values_list("user_key", flat=True))
    items = [
        PlatformUserOut(
            user_key=str(r["owner"]),
            platform=str(r["owner"]).split(":", 1)[0],
            last_seen_at=r["last"],
            conversations=int(r["n"]),
            banned=str(r["owner"]) in banned,
        )
        for r in rows
    ]
    return PlatformUserList(total=total, offset=offset, limit=limit, items=items)


def _ban(b: Ban) -> BanOut:
    return BanOut(
        user_key=b.user_key,
        reason=b.reason,
        created_by=b.created_by,
        created_at=b.created_at,
    )


@router.get("/bans", tags=["bans"])
async def list_bans(
    session: Reader, q: Search = "", offset: Offset = 0, limit: Limit = 50
) -> BanList:
    query = Ban.filter(user_key__icontains=q) if q else Ban.all()
    total, rows = await page(query, ("-id",), offset, limit)
    return BanList(
        total=total, offset=offset, limit=limit, items=[_ban(b) for b in rows]
    )


@router.post("/bans", status_code=201, tags=["bans"])
async def create_ban(body: BanCreate, session: Writer) -> BanOut:
    row, _ = await Ban.update_or_create(
        user_key=body.user_key,
        defaults={"reason": body.reason, "created_by": actor(session), "until": None},
    )
    await audit.record(
        actor(session), "ban", f"ban:{body.user_key}", None,
        {"user_key": body.user_key, "reason": body.reason},
        channel=ACCESS_CHANNEL, message={"kind": "ban", "key": body.user_key},
    )  # fmt: skip
    return _ban(row)


@router.delete("/bans/{user_key}", status_code=204, tags=["bans"])
async def delete_ban(user_key: str, session: Writer) -> Response:
    row = await Ban.get_or_none(user_key=user_key[:191])
    if row is None:
        raise HTTPException(404, "not banned")
    before = {"user_key": row.user_key, "reason": row.reason}
    await row.delete()
    await audit.record(
        actor(session), "unban", f"ban:{user_key}", before, None,
        channel=ACCESS_CHANNEL, message={"kind": "unban", "key": row.user_key},
    )  # fmt: skip
    return Response(status_code=204)
