"""The HTTP edge: one ASGI middleware in front of every route of the bot.

It runs before any route reads a byte of the body, in this order:

1. ``Host`` must name this server (loopback names, ``server.host``, the host of
   ``server.public_url`` and ``server.allowed_hosts``): a page that rebinds its DNS
   name to 127.0.0.1 reaches nothing (HTTP 400, sockets refused). The probes
   (``/health``, ``/ready``, ``/metrics``) answer any ``Host``.
2. Paths registered with :func:`loopback_only` (the embedded model endpoint) answer
   callers on this machine only, and never a request a proxy forwarded.
3. Gates registered with :func:`before_body` check credentials that travel in
   headers (a OneBot access token) before the body is read.
4. The body size limit (``server.max_body_bytes``, or a route's own from
   :func:`body_limit`) is enforced from ``Content-Length`` and again while the body
   streams in: a larger body is refused with 413 without being read whole.

Every HTTP response gets the security headers (CSP, ``frame-ancestors``,
``X-Frame-Options``, ``nosniff``, ``Referrer-Policy``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.settings import Settings

__all__ = [
    "SECURITY_HEADERS",
    "Gate",
    "HttpGuard",
    "before_body",
    "body_limit",
    "loopback_only",
    "validation_error",
]

log = logging.getLogger(__name__)

#: a gate gets the request headers (lower-case names) and returns None to let the
#: request on, or ``(status, message)`` to refuse it
Gate = Callable[[Mapping[str, str]], tuple[int, str] | None]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
#: probes answer whatever ``Host`` says (orchestrators use the pod's address);
#: they reveal nothing a rebound page could use
PROBES = frozenset({"/health", "/ready", "/metrics"})
WARN_INTERVAL = 60.0
_PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


@dataclass(frozen=True, slots=True)
class _Rule:
    prefix: str
    limit: int | None = None
    gate: Gate | None = None
    loopback: bool = False


_rules: list[_Rule] = []


def _add(rule: _Rule) -> Callable[[], None]:
    _rules.append(rule)

    def dispose() -> None:
        with contextlib.suppress(ValueError):
            _rules.remove(rule)

    return dispose


def body_limit(prefix: str, limit: int) -> Callable[[], None]:
    """Bodies of requests under ``prefix`` may have up to ``limit`` bytes (the
    longest matching prefix wins over ``server.max_body_bytes``)."""
    return _add(_Rule(prefix, limit=limit))


def before_body(prefix: str, gate: Gate) -> Callable[[], None]:
    """Run ``gate`` on the headers of HTTP requests under ``prefix`` first."""
    return _add(_Rule(prefix, gate=gate))


def loopback_only(prefix: str) -> Callable[[], None]:
    """Requests under ``prefix`` answer callers on this machine only."""
    return _add(_Rule(prefix, loopback=True))


def _host_name(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8080
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def allowed_host_names(
    host: str, public_url: str | None, extra: Iterable[str]
) -> frozenset[str] | None:
    """The host names ``Host`` may carry; None when any is allowed (``*``)."""
    names = set(LOOPBACK_NAMES)
    if host not in ("0.0.0.0", "::", ""):
        names.add(_host_name(host))
    if public_url:
        names.add(_host_name(urlsplit(public_url).netloc))
    for name in extra:
        if name.strip() == "*":
            return None
        names.add(_host_name(name))
    return frozenset(names)


def _is_loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _from_this_machine(scope: Scope, headers: Mapping[str, str]) -> bool:
    """A loopback caller, or one whose address is the server's own (the bot calls
    itself at ``server.host``), and no proxy in between."""
    if any(h in headers for h in _PROXY_HEADERS):
        return False
    client, server = scope.get("client"), scope.get("server")
    address = client[0] if client else None
    return _is_loopback(address) or (
        address is not None and server is not None and address == server[0]
    )


class _TooLarge(Exception):
    pass


class HttpGuard:
    """ASGI middleware; see the module docstring."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        server = settings.server
        self.app = app
        self.hosts = allowed_host_names(
            server.host, server.public_url, server.allowed_hosts
        )
        self.max_body = server.max_body_bytes
        self._warned = -WARN_INTERVAL
        if server.host in ("0.0.0.0", "::") and not (
            server.public_url or server.allowed_hosts
        ):
            log.warning(
                "server.host is %s but only loopback host names are served: set "
                "server.public_url or server.allowed_hosts to the names clients "
                "use (users, platform callbacks, OneBot clients)",
                server.host,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1")
            for k, v in scope.get("headers", ())
        }
        path: str = scope.get("path", "")
        refusal = self._refusal(scope, headers, path)
        if kind == "websocket":
            if refusal is not None:
                # closing before accepting: the server answers the upgrade with 403
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        send = _with_headers(send)
        if refusal is not None:
            await _reply(send, *refusal)
            return
        limit = self._limit(path)
        announced = headers.get("content-length")
        with contextlib.suppress(ValueError):
            if announced is not None and int(announced) > limit:
                await _reply(send, 413, f"request body over {limit} bytes")
                return
        seen = 0
        started = refused = False

        async def limited_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # answered here: frameworks turn errors raised while a body is
                    # parsed into their own 400
                    if not started and not refused:
                        refused = True
                        await _reply(send, 413, f"request body over {limit} bytes")
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out already
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not refused:
                raise

    def _refusal(
        self, scope: Scope, headers: Mapping[str, str], path: str
    ) -> tuple[int, str] | None:
        if self.hosts is not None and path not in PROBES:
            host = _host_name(headers.get("host", ""))
            if host not in self.hosts:
                now = time.monotonic()
                if now - self._warned > WARN_INTERVAL:  # a flood logs one line
                    self._warned = now
                    log.warning("refused a request for the unknown host %.80r", host)
                return 400, "unknown host (see server.allowed_hosts)"
        for rule in _rules:
            if not path.startswith(rule.prefix):
                continue
            if rule.loopback:
                if not _from_this_machine(scope, headers):
                    return 403, "this endpoint answers callers on this machine only"
            if rule.gate is not None and scope["type"] == "http":
                refused = rule.gate(headers)
                if refused is not None:
                    return refused
        return None

    def _limit(self, path: str) -> int:
        best, limit = -1, self.max_body
        for rule in _rules:
            if (
                rule.limit is not None
                and path.startswith(rule.prefix)
                and len(rule.prefix) > best
            ):
                best, limit = len(rule.prefix), rule.limit
        return limit


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            present = {k.lower() for k, _ in headers}
            headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A 422 that says where and why, never what was sent (a password)."""
    errors: list[Any] = list(getattr(exc, "errors", list)())
    detail = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
        for e in errors[:20]
        if isinstance(e, dict)
    ]
    return JSONResponse({"detail": detail}, status_code=422)
