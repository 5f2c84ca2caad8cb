"""One webhook HTTP request, with SSRF protection. No database here.

The host is resolved once per attempt; every address it resolves to (A and AAAA) must pass
:func:`~mercato.webhooks.domain.address_problem`, and the connection then goes to one of those
vetted addresses — the URL is rewritten to the IP while the ``Host`` header and the TLS SNI /
certificate check keep the original name (httpcore's ``sni_hostname`` extension). So a DNS
answer that changes between the check and the connect (DNS rebinding) cannot redirect us.
Redirects are never followed: a 3xx is a failed attempt.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from mercato.webhooks import domain

Resolver = Callable[[str, int], Awaitable[list[str]]]


class Refused(Exception):
    """The target may not be contacted (SSRF rules) or does not resolve."""


async def system_resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    seen: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in seen:
            seen.append(addr)
    return seen


async def vetted_addresses(target: domain.Target, *, production: bool,
                           resolve: Resolver = system_resolve) -> list[domain.IPAddress]:
    """Every address ``target`` resolves to, if all of them are allowed; else :class:`Refused`."""
    literal = domain.parse_ip(target.host)
    if literal is not None:
        addresses: list[domain.IPAddress] = [literal]
    else:
        try:
            names = await resolve(target.host, target.port)
        except (OSError, UnicodeError) as exc:
            raise Refused(f"cannot resolve {target.host}: {exc}") from exc
        addresses = [ip for ip in (domain.parse_ip(n) for n in names) if ip is not None]
        if not addresses:
            raise Refused(f"{target.host} resolves to no address")
    for ip in addresses:
        problem = domain.address_problem(ip, allow_loopback=not production)
        if problem:
            raise Refused(f"{target.host} resolves to {problem} ({ip}); refused")
    return addresses


@dataclass
class Outcome:
    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    snippet: str | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None and domain.is_success(self.status_code)


def _pinned_url(target: domain.Target, ip: domain.IPAddress) -> str:
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    path = target.parts.path or "/"
    query = f"?{target.parts.query}" if target.parts.query else ""
    return f"{target.scheme}://{host}:{target.port}{path}{query}"


def _host_header(target: domain.Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


async def _read_snippet(response: httpx.Response) -> str:
    buf = b""
    async for chunk in response.aiter_bytes():
        buf += chunk
        if len(buf) >= domain.SNIPPET_BYTES:
            break
    return buf[: domain.SNIPPET_BYTES].decode("utf-8", errors="replace")


async def post(url: str, body: bytes, headers: dict[str, str], *, production: bool,
               time_limit: float = domain.REQUEST_TIMEOUT_SECONDS, resolve: Resolver = system_resolve) -> Outcome:
    """POST ``body`` to ``url`` under the SSRF rules; never raises for network trouble.

    A fresh client per attempt: a pooled connection, opened for one host name's TLS session
    to an IP, must never be reused for another host name that resolves to the same IP."""
    started = datetime.now(UTC)
    t0 = time.perf_counter()

    def done(**kw: object) -> Outcome:
        return Outcome(started_at=started, duration_ms=int((time.perf_counter() - t0) * 1000), **kw)  # type: ignore[arg-type]

    problem = domain.url_problem(url, production=production)
    if problem:
        return done(error=f"refused: the URL {problem}")
    target = domain.target_of(url)
    http = httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=time_limit)
    try:
        async with asyncio.timeout(time_limit):
            addresses = await vetted_addresses(target, production=production, resolve=resolve)
            last_error = "no address"
            for ip in addresses:
                request = http.build_request(
                    "POST", _pinned_url(target, ip), content=body,
                    headers={**headers, "host": _host_header(target)},
                    extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
                )
                try:
                    response = await http.send(request, stream=True, follow_redirects=False)
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    last_error = f"connection failed ({ip}): {exc or type(exc).__name__}"
                    continue  # try the next vetted address
                try:
                    snippet = await _read_snippet(response)
                finally:
                    await response.aclose()
                error = None
                if 300 <= response.status_code < 400:
                    error = f"redirect ({response.status_code}) not followed"
                elif not domain.is_success(response.status_code):
                    error = f"HTTP {response.status_code}"
                return done(status_code=response.status_code, snippet=snippet, error=error)
            return done(error=last_error)
    except Refused as exc:
        return done(error=f"refused: {exc}")
    except TimeoutError:
        return done(error=f"timed out after {time_limit:g} s")
    except httpx.HTTPError as exc:
        return done(error=f"{type(exc).__name__}: {exc}"[:1000])
    finally:
        await http.aclose()
