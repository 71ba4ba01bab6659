"""Fetching the media a platform points us to, without becoming an SSRF hole.

Platforms hand us URLs: QQ image segments, the Official Account's ``PicUrl``, a quoted
message's picture. A bot that fetches whatever it is given lets any group member make
it request ``http://169.254.169.254/`` or an admin page on loopback. The rules here:

- ``http`` and ``https`` only, no credentials in the URL;
- the host must be on the allow-list: an exact name, ``*.suffix`` (the suffix and any
  name below it), an IP address or a CIDR range;
- every address the name resolves to must be public, or itself inside an IP or CIDR
  entry of the allow-list (so ``localhost`` on the list still cannot reach loopback).
  The check runs in the resolver of the very connection that is made, so a name that
  resolves differently a second time (DNS rebinding) gains nothing;
- redirects are followed by hand, each hop checked like the first, at most
  :data:`MAX_REDIRECTS`;
- the body is capped from ``Content-Length`` and again while it streams, and the
  whole fetch has a deadline;
- what an image is comes from its bytes (Pillow), never from the ``Content-Type``
  header; images are downscaled to ``max_side`` and re-encoded before any model sees
  them, which also drops whatever else the file carried.

::

    FreeChatError
    └── MediaError          any failure; ``reason`` is a stable code for the user text
        ├── MediaRefused    policy: scheme, host, address, type (nothing was fetched)
        ├── MediaTooLarge   over the byte or pixel cap
        └── MediaUnavailable  network error, bad status, deadline passed
"""

from __future__ import annotations

import asyncio
import base64
import io
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from bot.exceptions import FreeChatError

MAX_REDIRECTS = 3
#: formats we accept and the MIME type we send them on with
_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
}

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class MediaError(FreeChatError):
    """A media fetch that did not give a usable file."""

    reason = "failed"

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class MediaRefused(MediaError):
    reason = "refused"


class MediaTooLarge(MediaError):
    reason = "too_large"


class MediaUnavailable(MediaError):
    reason = "unavailable"


@dataclass(frozen=True)
class MediaPolicy:
    """What may be fetched, how much and how long."""

    allowed_hosts: tuple[str, ...] = ()
    max_bytes: int = 10 * 1024 * 1024
    timeout: float = 15.0
    #: longest side of an image after downscaling
    max_side: int = 1568
    #: decoded size cap: a 50-kB PNG can claim 60,000 x 60,000 pixels
    max_pixels: int = 40_000_000
    _names: frozenset[str] = field(init=False, repr=False, default=frozenset())
    _suffixes: tuple[str, ...] = field(init=False, repr=False, default=())
    _networks: tuple[IPNetwork, ...] = field(init=False, repr=False, default=())

    def __post_init__(self) -> None:
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        for raw in self.allowed_hosts:
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if entry.startswith("*."):
                suffixes.append(entry[1:])  # ".qpic.cn"
            else:
                names.add(entry)
        object.__setattr__(self, "_names", frozenset(names))
        object.__setattr__(self, "_suffixes", tuple(suffixes))
        object.__setattr__(self, "_networks", tuple(networks))

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        address = _ip(host)
        if address is not None:
            return self.address_listed(address)
        if host in self._names:
            return True
        return any(host.endswith(s) or host == s[1:] for s in self._suffixes)

    def address_listed(self, address: IPAddress) -> bool:
        return any(address in net for net in self._networks)

    def address_allowed(self, address: IPAddress) -> bool:
        """Public addresses are fine; private, loopback, link-local (the cloud
        metadata service) only when listed by IP/CIDR; "any" and multicast never."""
        if address.is_unspecified or address.is_multicast:
            return False
        return address.is_global or self.address_listed(address)


@dataclass(frozen=True)
class Media:
    """A fetched image, checked and re-encoded."""

    data: bytes
    mime: str
    width: int
    height: int
    url: str

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode()}"


def _ip(host: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


class _CheckedResolver(AbstractResolver):
    """Resolves with the system resolver and refuses the whole name when any of its
    addresses is not allowed (a name with one public and one private address would
    otherwise reach the private one on a retry)."""

    def __init__(self, policy: MediaPolicy) -> None:
        self._policy = policy
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            address = _ip(result["host"])
            if address is None or not self._policy.address_allowed(address):
                raise MediaRefused(f"{host} resolves to a non-public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def check_url(url: URL, policy: MediaPolicy) -> None:
    """Refuse what can be refused before any connection."""
    if url.scheme not in ("http", "https"):
        raise MediaRefused(f"scheme {url.scheme!r} is not allowed", url=str(url))
    if url.user or url.password:
        raise MediaRefused("credentials in media URLs are not allowed", url=str(url))
    host = url.host or ""
    if not host or not policy.host_allowed(host):
        raise MediaRefused(f"host {host!r} is not on the allow-list", url=str(url))
    address = _ip(host)
    if address is not None and not policy.address_allowed(address):
        raise MediaRefused(f"address {host} is not public", url=str(url))


async def fetch_bytes(url: str, policy: MediaPolicy) -> tuple[bytes, URL]:
    """The body behind ``url`` (after checked redirects) and the final URL."""
    try:
        async with asyncio.timeout(policy.timeout):
            return await _fetch(URL(url), policy)
    except TimeoutError as exc:
        raise MediaUnavailable(
            f"no complete answer within {policy.timeout:g} s", url=url
        ) from exc


async def _fetch(url: URL, policy: MediaPolicy) -> tuple[bytes, URL]:
    connector = aiohttp.TCPConnector(
        resolver=_CheckedResolver(policy), use_dns_cache=False, force_close=True
    )
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as http:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(url, policy)
            try:
                async with http.get(url, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = response.headers.get("Location", "")
                        if not location:
                            raise MediaUnavailable("redirect without a Location")
                        url = url.join(URL(location))
                        continue
                    if response.status != 200:
                        raise MediaUnavailable(f"HTTP {response.status}", url=str(url))
                    return await _read_capped(response, policy, url), url
            except aiohttp.ClientError as exc:
                raise MediaUnavailable(f"fetch failed: {exc}", url=str(url)) from exc
        raise MediaRefused(f"more than {MAX_REDIRECTS} redirects", url=str(url))


async def _read_capped(
    response: aiohttp.ClientResponse, policy: MediaPolicy, url: URL
) -> bytes:
    declared = response.content_length
    if declared is not None and declared > policy.max_bytes:
        raise MediaTooLarge(
            f"{declared} bytes declared, the cap is {policy.max_bytes}", url=str(url)
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > policy.max_bytes:
            raise MediaTooLarge(
                f"over the cap of {policy.max_bytes} bytes", url=str(url)
            )
        chunks.append(chunk)
    return b"".join(chunks)


def prepare_image(data: bytes, policy: MediaPolicy, url: str = "") -> Media:
    """Check that ``data`` is an image by its bytes, downscale and re-encode it.
    CPU work: call it in a thread (:func:`fetch_image` does)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format or ""
            width, height = probe.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise MediaRefused("not an image", url=url) from exc
    if kind not in _FORMATS:
        raise MediaRefused(f"image format {kind or '?'} is not accepted", url=url)
    if width * height > policy.max_pixels:
        raise MediaTooLarge(f"{width}x{height} pixels is over the cap", url=url)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)  # first frame of an animation
            image.thumbnail((policy.max_side, policy.max_side))
            keep_alpha = image.mode in ("RGBA", "LA", "P")
            out = io.BytesIO()
            if keep_alpha:
                image.convert("RGBA").save(out, format="PNG", optimize=True)
                mime = "image/png"
            else:
                image.convert("RGB").save(out, format="JPEG", quality=85)
                mime = "image/jpeg"
            size = image.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaRefused("the image could not be decoded", url=url) from exc
    return Media(data=out.getvalue(), mime=mime, width=size[0], height=size[1], url=url)


async def fetch_image(url: str, policy: MediaPolicy) -> Media:
    """Fetch ``url`` under ``policy`` and return it as a checked, downscaled image."""
    data, final = await fetch_bytes(url, policy)
    return await asyncio.to_thread(prepare_image, data, policy, str(final))


def policy_for(
    allowed: dict[str, list[str]], platform: str, **limits: Any
) -> MediaPolicy:
    """The policy of one platform: its own hosts plus the ``"*"`` entry's."""
    hosts: Iterable[str] = [*allowed.get("*", []), *allowed.get(platform, [])]
    return MediaPolicy(allowed_hosts=tuple(hosts), **limits)
