"""A fake Consul agent on loopback: service registration and blocking health
queries, answered the way the agent's HTTP API answers them."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web


class FakeConsul:
    def __init__(self) -> None:
        self.services: dict[str, dict[str, Any]] = {}
        self.failing: set[str] = set()
        self.index = 1
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeConsul:
        app = web.Application()
        app.router.add_put("/v1/agent/service/register", self._register)
        app.router.add_put("/v1/agent/service/deregister/{id}", self._deregister)
        app.router.add_get("/v1/health/service/{name}", self._health)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def _bump(self) -> None:
        self.index += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def set_failing(self, service_id: str, failing: bool) -> None:
        (self.failing.add if failing else self.failing.discard)(service_id)
        self._bump()

    async def _register(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not body.get("Name") or not body.get("Port"):
            return web.Response(status=400, text="Invalid service")
        self.services[body.get("ID") or body["Name"]] = body
        self._bump()
        return web.Response(status=200)

    async def _deregister(self, request: web.Request) -> web.Response:
        if self.services.pop(request.match_info["id"], None) is None:
            return web.Response(status=404, text="Unknown service")
        self._bump()
        return web.Response(status=200)

    async def _health(self, request: web.Request) -> web.Response:
        index = int(request.query.get("index", "0") or 0)
        if index and index >= self.index:
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), 5)
            except TimeoutError:
                pass
        name = request.match_info["name"]
        entries = []
        for sid, svc in self.services.items():
            if svc["Name"] != name:
                continue
            if request.query.get("passing") and sid in self.failing:
                continue
            entries.append(
                {
                    "Node": {"Address": "127.0.0.1"},
                    "Service": {
                        "ID": sid,
                        "Service": name,
                        "Address": svc.get("Address", ""),
                        "Port": svc["Port"],
                        "Meta": svc.get("Meta") or {},
                    },
                    "Checks": [
                        {"Status": "critical" if sid in self.failing else "passing"}
                    ],
                }
            )
        return web.json_response(entries, headers={"X-Consul-Index": str(self.index)})
