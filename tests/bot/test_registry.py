"""Service discovery and registration against a fake Consul agent on loopback."""

from __future__ import annotations

import asyncio

from bot.registry import ConsulRegistration, ConsulRegistry
from tests.fakes.consul import FakeConsul


async def wait_until(cond, timeout: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if cond():
            return True
        await asyncio.sleep(0.02)
    return cond()


async def test_register_discover_fail_and_deregister() -> None:
    consul = await FakeConsul().start()
    a = ConsulRegistration(
        consul.url, "freechat-inference", address="10.0.0.5", port=8081
    )
    b = ConsulRegistration(
        consul.url, "freechat-inference", address="10.0.0.6", port=8081
    )
    registry = ConsulRegistry(consul.url, "freechat-inference", api_key="k")
    try:
        await a.register()
        await registry.start()
        assert [e.base_url for e in registry.endpoints()] == ["http://10.0.0.5:8081/v1"]
        assert registry.endpoints()[0].api_key == "k"
        # a new instance shows up through the blocking query, without polling delay
        await b.register()
        assert await wait_until(lambda: len(registry.endpoints()) == 2)
        # an instance whose health check fails is dropped
        consul.set_failing(a.instance_id, True)
        assert await wait_until(
            lambda: (
                [e.base_url for e in registry.endpoints()]
                == ["http://10.0.0.6:8081/v1"]
            )
        )
        await b.deregister()
        assert await wait_until(lambda: registry.endpoints() == [])
        check = a.payload()["Check"]
        assert isinstance(check, dict)
        assert check["HTTP"] == "http://10.0.0.5:8081/health"
    finally:
        await registry.stop()
        await consul.stop()


async def test_consul_down_keeps_last_known_endpoints() -> None:
    consul = await FakeConsul().start()
    reg = ConsulRegistration(consul.url, "svc", address="127.0.0.1", port=9)
    await reg.register()
    registry = ConsulRegistry(consul.url, "svc")
    await registry.start()
    assert len(registry.endpoints()) == 1
    await consul.stop()
    await asyncio.sleep(0.3)
    assert len(registry.endpoints()) == 1
    await registry.stop()
