"""Service registry: where the OpenAI-compatible inference endpoints are.

``static`` lists endpoints from settings (and the embedded engine). ``consul`` asks a
Consul agent for healthy instances of a service (blocking queries keep the list
fresh) and registers inference instances with a health check.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One OpenAI-compatible endpoint; ``base_url`` ends in ``/v1``."""

    base_url: str
    api_key: str = ""

    @property
    def key(self) -> str:
        return self.base_url


class Registry(abc.ABC):
    @abc.abstractmethod
    def endpoints(self) -> list[Endpoint]:
        """Known endpoints now (cheap; no I/O)."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Begin watching for changes."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop watching."""


class StaticRegistry(Registry):
    def __init__(self, endpoints: list[Endpoint]) -> None:
        self._endpoints = list(endpoints)

    def endpoints(self) -> list[Endpoint]:
        return list(self._endpoints)

    def set(self, endpoints: list[Endpoint]) -> None:
        self._endpoints = list(endpoints)


class ConsulRegistry(Registry):
    """Healthy instances of ``service`` from a Consul agent's HTTP API."""

    def __init__(self, agent_url: str, service: str, *, api_key: str = "") -> None:
        self.agent_url = agent_url.rstrip("/")
        self.service = service
        self.api_key = api_key
        self._endpoints: list[Endpoint] = []
        self._task: asyncio.Task[None] | None = None
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(70.0, connect=3.0))

    def endpoints(self) -> list[Endpoint]:
        return list(self._endpoints)

    async def refresh(self, index: str | None = None) -> str | None:
        params = {"passing": "1"}
        if index:
            params.update(index=index, wait="55s")
        url = f"{self.agent_url}/v1/health/service/{self.service}"
        resp = await self._client.get(url, params=params)
        resp.raise_for_status()
        found = []
        for entry in resp.json():
            svc = entry.get("Service", {})
            addr = svc.get("Address") or entry.get("Node", {}).get("Address", "")
            if addr and svc.get("Port"):
                path = (svc.get("Meta") or {}).get("path", "/v1")
                found.append(
                    Endpoint(f"http://{addr}:{svc['Port']}{path}", self.api_key)
                )
        self._endpoints = found
        index = resp.headers.get("X-Consul-Index")
        return str(index) if index else None

    async def _watch(self) -> None:
        index: str | None = None
        backoff = 0.5
        while True:
            try:
                index = await self.refresh(index)
                backoff = 0.5
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("consul query failed: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def start(self) -> None:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            await self.refresh()
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()


class ConsulRegistration:
    """Registers one service instance with a Consul agent, with an HTTP health check,
    and deregisters it on stop (inference instances use this)."""

    def __init__(
        self,
        agent_url: str,
        service: str,
        *,
        address: str,
        port: int,
        path: str = "/v1",
        health_path: str = "/health",
        interval: str = "10s",
        instance_id: str | None = None,
    ) -> None:
        self.agent_url = agent_url.rstrip("/")
        self.service = service
        self.address = address
        self.port = port
        self.path = path
        self.health_path = health_path
        self.interval = interval
        self.instance_id = instance_id or f"{service}-{address}-{port}"

    def payload(self) -> dict[str, object]:
        return {
            "ID": self.instance_id,
            "Name": self.service,
            "Address": self.address,
            "Port": self.port,
            "Meta": {"path": self.path},
            "Check": {
                "HTTP": f"http://{self.address}:{self.port}{self.health_path}",
                "Interval": self.interval,
                "Timeout": "3s",
                "DeregisterCriticalServiceAfter": "1m",
            },
        }

    async def register(self) -> None:
        async with httpx.AsyncClient(timeout=5.0) as client:
            resp = await client.put(
                f"{self.agent_url}/v1/agent/service/register", json=self.payload()
            )
            resp.raise_for_status()
        log.info("registered %s in Consul as %s", self.service, self.instance_id)

    async def deregister(self) -> None:
        async with httpx.AsyncClient(timeout=5.0) as client:
            resp = await client.put(
                f"{self.agent_url}/v1/agent/service/deregister/{self.instance_id}"
            )
            resp.raise_for_status()
