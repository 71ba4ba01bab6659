"""The admin API under ``/api/admin/``: the operator's console.

Resources (each in its module): ``overview``, ``adapters``, ``providers``, ``audit``,
``logs`` (:mod:`.system`); ``users``, ``api-keys``, ``bans`` (:mod:`.people`);
``groups``, ``personas`` (:mod:`.groups`); ``sensitive-words``, ``keywords``,
``budgets`` (:mod:`.rules`); ``plugins`` (:mod:`.plugins`); the live log socket
``logs/ws`` (:mod:`.logstream`).
Who may use what: :mod:`bot.auth.roles`. Every change is written to the audit log
and published on the change feed (:mod:`.audit`).

The OpenAPI document (``/api/admin/openapi.json``) and a Swagger UI page
(``/api/admin/docs``) are for admins only; Swagger UI's files are served from the
installed ``swagger-ui-bundle`` package, so the page works offline.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response

from bot import __version__
from bot.runtime import get_runtime
from bot.settings import Settings

from . import groups, ilink, logbuffer, logstream, people, plugins, rules, system
from .deps import AdminReader

PREFIX = "/api/admin"

api = APIRouter(prefix=PREFIX)
for _module in (system, people, groups, rules, ilink, logstream, plugins):
    api.include_router(_module.router)

docs = APIRouter(prefix=PREFIX, include_in_schema=False)
_openapi: dict[str, Any] | None = None


def openapi_document() -> dict[str, Any]:
    global _openapi
    if _openapi is None:
        _openapi = get_openapi(
            title="FreeChat admin API",
            version=__version__,
            description=(
                "The operator's console. Sign in at /api/auth/login; send the "
                "freechat_csrf cookie's value as X-CSRF-Token on every change."
            ),
            routes=api.routes,
        )
    return _openapi


@docs.get("/openapi.json")
async def openapi_json(session: AdminReader) -> JSONResponse:
    return JSONResponse(openapi_document())


def _swagger_dir() -> Path:
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


_DOCS_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>FreeChat admin API</title>
<link rel="stylesheet" href="{base}/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{base}/docs/assets/swagger-ui-bundle.js"></script>
<script>
function csrf() {{
  const m = document.cookie.match(/(?:^|; )freechat_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
}}
window.ui = SwaggerUIBundle({{
  url: "{base}/openapi.json", dom_id: "#swagger-ui",
  requestInterceptor: (req) => {{ req.headers["X-CSRF-Token"] = csrf(); return req; }},
}});
</script></body></html>"""


@docs.get("/docs")
async def swagger(session: AdminReader) -> HTMLResponse:
    return HTMLResponse(_DOCS_HTML.format(base=PREFIX))


_ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js")


@docs.get("/docs/assets/{name}")
async def swagger_asset(name: str, session: AdminReader) -> Response:
    if name not in _ASSETS:  # a fixed list: no path from the request reaches the disk
        raise HTTPException(404, "no such file")
    path = _swagger_dir() / name
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(
        path.read_bytes(),
        media_type=media,
        headers={"Cache-Control": "private, max-age=86400"},
    )


def setup_admin(app: FastAPI, settings: Settings) -> None:
    """Mount the admin API; track connections, heartbeats and recent log lines."""
    import nonebot

    app.include_router(api)
    app.include_router(docs)
    driver = nonebot.get_driver()
    logbuffer.install()

    async def _start() -> None:
        get_runtime().spawn(system.heartbeat(), name="instance-heartbeat")

    driver.on_startup(_start)
