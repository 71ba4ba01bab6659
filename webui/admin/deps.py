"""Who may use the admin API: signed-in web users by role, writes with CSRF.

``Reader`` admits ``admin`` and ``operator`` (the operator's resources), ``Writer``
the same plus the CSRF check; ``AdminReader``/``AdminWriter`` only ``admin``. The
role is checked before the CSRF token, so a signed-in user without the role always
gets 403, whatever the request carries. See ``bot.auth.roles`` for the matrix.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from tortoise.queryset import QuerySet

from bot import auth
from bot.runtime import get_runtime


async def _session(request: Request) -> auth.Session:
    try:
        return await auth.verify_session(
            get_runtime().settings, request.cookies.get(auth.SESSION_COOKIE)
        )
    except auth.AuthError as exc:
        raise HTTPException(exc.status, str(exc)) from None


def _csrf(request: Request) -> None:
    try:
        auth.check_csrf(
            request.cookies.get(auth.CSRF_COOKIE), request.headers.get(auth.CSRF_HEADER)
        )
    except auth.AuthError as exc:
        raise HTTPException(exc.status, str(exc)) from None


async def console_session(
    session: Annotated[auth.Session, Depends(_session)],
) -> auth.Session:
    if auth.role_of(session.user) not in auth.CONSOLE_ROLES:
        raise HTTPException(403, "the admin console needs the admin or operator role")
    return session


async def admin_session(
    session: Annotated[auth.Session, Depends(_session)],
) -> auth.Session:
    if auth.role_of(session.user) != "admin":
        raise HTTPException(403, "this part of the console needs the admin role")
    return session


async def console_writer(
    request: Request, session: Annotated[auth.Session, Depends(console_session)]
) -> auth.Session:
    _csrf(request)
    return session


async def admin_writer(
    request: Request, session: Annotated[auth.Session, Depends(admin_session)]
) -> auth.Session:
    _csrf(request)
    return session


Reader = Annotated[auth.Session, Depends(console_session)]
Writer = Annotated[auth.Session, Depends(console_writer)]
AdminReader = Annotated[auth.Session, Depends(admin_session)]
AdminWriter = Annotated[auth.Session, Depends(admin_writer)]


def actor(session: auth.Session) -> str:
    return f"web:{session.user.name}"


# -- list parameters shared by every list endpoint ------------------------------------
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
Search = Annotated[str, Query(max_length=200)]


async def page(
    query: QuerySet[Any], order: tuple[str, ...], offset: int, limit: int
) -> tuple[int, list[Any]]:
    """The total of ``query`` and one page of it."""
    total = await query.count()
    rows = await query.order_by(*order).offset(offset).limit(limit)
    return total, list(rows)
