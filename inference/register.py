"""`freechat inference register`: any OpenAI-compatible server in the registry.

    freechat inference register --url http://gpu-1:8000/v1 [--consul-url URL]

Watches an external engine (vLLM, SGLang, Ollama, a llama.cpp server...) with
`GET {url}/models` every `interval` seconds and keeps it in Consul under the
inference service name while it answers: registered once it is healthy,
deregistered after `unhealthy_after` failed checks in a row (and registered again
when it comes back), and deregistered when this command exits. The registration
carries Consul's own HTTP check on the same URL, so bots stop using the engine
even if this process dies; Consul removes it after a minute critical.

Bots find it like one of our own instances (`registry.kind: consul`): the
endpoint is `http://ADDRESS:PORT/PATH`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExternalTarget:
    """Where an external engine listens, split as Consul stores it."""

    address: str
    port: int
    path: str  # the OpenAI base path, e.g. /v1

    @property
    def base_url(self) -> str:
        """The base URL clients use (ends with the API path)."""
        return f"http://{self.address}:{self.port}{self.path}"


def parse_target(url: str) -> ExternalTarget:
    """`http://host:port[/path]` (path defaults to /v1); ValueError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme != "http":
        raise ValueError(f"{url!r}: give an http:// URL (bots reach engines over http)")
    if not parts.hostname or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{url!r}: expected http://HOST:PORT/v1")
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise ValueError(f"{url!r}: {exc}") from None
    path = parts.path.rstrip("/") or "/v1"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return ExternalTarget(host, port, path)


class ExternalEngine:
    """Keeps one external engine registered while it is healthy."""

    def __init__(
        self,
        url: str,
        consul_url: str,
        service: str = "freechat-inference",
        *,
        interval: float = 5.0,
        timeout: float = 3.0,
        unhealthy_after: int = 2,
        instance_id: str | None = None,
    ) -> None:
        from bot.registry import ConsulRegistration

        self.target = parse_target(url)
        self.interval = interval
        self.timeout = timeout
        self.unhealthy_after = unhealthy_after
        self.registration = ConsulRegistration(
            consul_url,
            service,
            address=self.target.address,
            port=self.target.port,
            path=self.target.path,
            health_path=f"{self.target.path}/models",
            interval=f"{max(1, round(interval))}s",
            instance_id=instance_id,
        )
        self.registered = False
        self.failures = 0
        self.checks = 0

    async def healthy(self, client: httpx.AsyncClient) -> bool:
        """Whether `GET /models` answers 200 with a model list."""
        try:
            response = await client.get(f"{self.target.base_url}/models")
            data = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return False
        return isinstance(data, dict) and isinstance(data.get("data"), list)

    async def check(self, client: httpx.AsyncClient) -> None:
        """One health check and the registration change it calls for."""
        self.checks += 1
        if await self.healthy(client):
            self.failures = 0
            if not self.registered:
                await self._set(True)
            return
        self.failures += 1
        if self.registered and self.failures >= self.unhealthy_after:
            await self._set(False)

    async def _set(self, registered: bool) -> None:
        action = (
            self.registration.register if registered else self.registration.deregister
        )
        try:
            await action()
        except httpx.HTTPError as exc:  # Consul away: try again at the next check
            log.warning("Consul: %s failed: %s", action.__name__, exc)
            return
        self.registered = registered
        state = "healthy: registered" if registered else "unhealthy: deregistered"
        log.info("%s is %s", self.target.base_url, state)

    async def run(self, stop: asyncio.Event) -> None:
        """Check every `interval` until `stop` is set; deregister on the way out."""
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                while not stop.is_set():
                    await self.check(client)
                    try:
                        await asyncio.wait_for(stop.wait(), self.interval)
                    except TimeoutError:
                        pass
        finally:
            if self.registered:
                await asyncio.shield(self._set(False))
