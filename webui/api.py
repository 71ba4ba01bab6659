"""HTTP API of the web app (see ``adapters/web/PROTOCOL.md``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bot import __version__, auth
from bot.runtime import get_runtime
from bot.settings import Settings
from bot.store import flush_pending
from bot.store.models import Conversation

from .exceptions import AuthError

router = APIRouter(prefix="/api")


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SetupBody(LoginBody):
    token: str = Field(min_length=1, max_length=200)


def _settings() -> Settings:
    return get_runtime().settings


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _user_json(user: Any) -> dict[str, Any]:
    return {"name": user.name, "is_admin": user.is_admin, "role": auth.role_of(user)}


def _error(exc: AuthError) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=exc.status)


async def current_session(request: Request) -> auth.Session:
    try:
        return await auth.verify_session(
            _settings(), request.cookies.get(auth.SESSION_COOKIE)
        )
    except AuthError as exc:
        raise _http(exc) from None


async def csrf_session(
    request: Request, session: Annotated[auth.Session, Depends(current_session)]
) -> auth.Session:
    try:
        auth.check_csrf(
            request.cookies.get(auth.CSRF_COOKIE), request.headers.get(auth.CSRF_HEADER)
        )
    except AuthError as exc:
        raise _http(exc) from None
    return session


def _http(exc: AuthError) -> Exception:
    from fastapi import HTTPException

    return HTTPException(status_code=exc.status, detail=str(exc))


def _sign_in(response: JSONResponse, user: Any) -> JSONResponse:
    settings = _settings()
    token, csrf = auth.issue_session(settings, user)
    common: dict[str, Any] = {
        "max_age": settings.auth.session_ttl,
        "samesite": "strict",
        "secure": settings.auth.cookie_secure,
        "path": "/",
    }
    response.set_cookie(auth.SESSION_COOKIE, token, httponly=True, **common)
    response.set_cookie(auth.CSRF_COOKIE, csrf, httponly=False, **common)
    return response


@router.get("/auth/state")
async def auth_state(request: Request) -> dict[str, Any]:
    user = None
    try:
        session = await auth.verify_session(
            _settings(), request.cookies.get(auth.SESSION_COOKIE)
        )
        user = _user_json(session.user)
    except AuthError:
        pass
    return {"setup_required": await auth.needs_setup(), "user": user}


@router.post("/auth/login")
async def login(body: LoginBody, request: Request) -> JSONResponse:
    settings, client = _settings(), _client(request)
    try:
        await auth.check_login_rate(settings, body.username, client)
        user = await auth.authenticate(body.username, body.password)
    except AuthError as exc:
        if exc.status == 401:
            await auth.record_login_failure(settings, body.username, client)
        return _error(exc)
    await auth.record_login_success(body.username, client)
    return _sign_in(JSONResponse({"user": _user_json(user)}), user)


@router.post("/auth/setup")
async def setup(body: SetupBody, request: Request) -> JSONResponse:
    settings, client = _settings(), _client(request)
    try:
        await auth.check_login_rate(settings, "setup", client)
        await auth.use_setup_token(body.token)
        user = await auth.create_user(body.username, body.password, is_admin=True)
    except AuthError as exc:
        if exc.status == 403:
            await auth.record_login_failure(settings, "setup", client)
        return _error(exc)
    return _sign_in(JSONResponse({"user": _user_json(user)}), user)


@router.post("/auth/logout", status_code=204)
async def logout(session: Annotated[auth.Session, Depends(csrf_session)]) -> Response:
    await auth.revoke_session(session)
    response = Response(status_code=204)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    response.delete_cookie(auth.CSRF_COOKIE, path="/")
    return response


@router.get("/auth/me")
async def me(
    session: Annotated[auth.Session, Depends(current_session)],
) -> dict[str, Any]:
    return {"user": _user_json(session.user)}


@router.get("/info")
async def info(
    session: Annotated[auth.Session, Depends(current_session)],
) -> dict[str, Any]:
    rt = get_runtime()
    return {
        "version": __version__,
        "model": rt.settings.llm.model,
        "demo_model": rt.demo_model,
        "max_message_chars": rt.settings.server.max_message_chars,
    }


def owner_of(session: auth.Session) -> str:
    return f"web:{session.user.name}"


@router.get("/conversations")
async def conversations(
    session: Annotated[auth.Session, Depends(current_session)],
) -> dict[str, Any]:
    await flush_pending()  # a conversation's first messages may still be queued
    rows = (
        await Conversation.filter(owner=owner_of(session), archived=False)
        .order_by("-updated_at")
        .limit(200)
    )
    return {
        "items": [
            {"id": c.id, "title": c.title, "updated_at": c.updated_at.isoformat()}
            for c in rows
        ]
    }


async def _own_conversation(session: auth.Session, conv_id: str) -> Conversation:
    conv = await Conversation.get_or_none(id=conv_id[:36], owner=owner_of(session))
    if conv is None:
        from fastapi import HTTPException

        raise HTTPException(status_code=404, detail="no such conversation")
    return conv


@router.get("/conversations/{conv_id}")
async def conversation(
    conv_id: str, session: Annotated[auth.Session, Depends(current_session)]
) -> dict[str, Any]:
    conv = await _own_conversation(session, conv_id)
    await flush_pending()  # history writes behind: see the last answer too
    messages = await conv.messages.all().order_by("id")
    return {
        "id": conv.id,
        "title": conv.title,
        "messages": [
            {
                "role": m.role,
                "content": m.content,
                "reasoning": m.reasoning,
                "created_at": m.created_at.isoformat(),
                "demo": m.demo,
            }
            for m in messages
        ],
    }


@router.delete("/conversations/{conv_id}", status_code=204)
async def delete_conversation(
    conv_id: str, session: Annotated[auth.Session, Depends(csrf_session)]
) -> Response:
    conv = await _own_conversation(session, conv_id)
    await flush_pending()  # nothing queued for it may arrive after the delete
    await conv.delete()
    await get_runtime().state.publish("history", {"conversations": [conv.id]})
    return Response(status_code=204)
