"""Login throttling: failures counted per account and per client IP in a moving window
(Redis when configured, else process memory — ``platform.ratelimit.Limiter``)."""

from __future__ import annotations

from mercato.identity.errors import LoginThrottled
from mercato.platform.ratelimit import Limiter
from mercato.settings import get_settings


def _limits(scope: str) -> tuple[str, str]:
    s = get_settings()
    window = s.login_failure_window_seconds
    return (f"{s.login_max_failures_per_account} per {window} second",
            f"{s.login_max_failures_per_ip} per {window} second")


def _keys(scope: str, account: str, ip: str | None) -> list[tuple[str, str]]:
    per_account, per_ip = _limits(scope)
    keys = [(per_account, f"{scope}:acct:{account.lower()}")]
    if ip:
        keys.append((per_ip, f"{scope}:ip:{ip}"))
    return keys


async def check(limiter: Limiter, scope: str, account: str, ip: str | None) -> None:
    """Raise 429 if the account or the IP has used up its failures in the window."""
    for limit, key in _keys(scope, account, ip):
        verdict = await limiter.peek(limit, key)
        if not verdict.allowed:
            raise LoginThrottled(retry_after=verdict.reset_in)


async def failed(limiter: Limiter, scope: str, account: str, ip: str | None) -> None:
    for limit, key in _keys(scope, account, ip):
        await limiter.hit(limit, key)


async def succeeded(limiter: Limiter, scope: str, account: str) -> None:
    """A success forgives the account's failures (not the IP's: one IP may be spraying many accounts)."""
    limit, key = _keys(scope, account, None)[0]
    await limiter.clear(limit, key)
