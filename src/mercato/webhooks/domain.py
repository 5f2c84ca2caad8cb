"""Pure rules of outbound webhooks: secrets, signatures, URL and address checks, the retry
schedule, event matching, when an endpoint is given up on. No I/O here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import random
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, urlsplit

# --------------------------------------------------------------------------- knobs

#: Delays before the 2nd, 3rd, … attempt (Standard Webhooks / Svix-like schedule); after the
#: last one fails the delivery is ``dead``. So a delivery gets ``len(...) + 1`` automatic attempts.
RETRY_SCHEDULE_SECONDS: tuple[float, ...] = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)
#: Each delay is stretched or shrunk by up to this fraction, at random, so a recovering
#: receiver is not hit by every delayed delivery at the same second.
RETRY_JITTER = 0.1
#: An endpoint whose attempts all failed for this long is disabled (and its owner told).
FAILING_PERIOD = timedelta(days=5)
#: After a secret rotation, the previous secret keeps signing for this long.
SECRET_OVERLAP = timedelta(hours=24)
#: Per-attempt HTTP time limit (connect + send + response), seconds.
REQUEST_TIMEOUT_SECONDS = 10.0
#: How much of a response body is kept with the attempt.
SNIPPET_BYTES = 500
#: A claimed delivery is invisible to other senders for this long (crash safety: a sender that
#: died mid-request leaves the delivery to be retried after the lease).
CLAIM_LEASE = timedelta(seconds=60)

SECRET_PREFIX = "whsec_"
TEST_EVENT_TYPE = "webhook.test"

#: Events that never leave the platform: they carry one-time tokens and personal data meant for
#: one recipient (e.g. a password-reset code inside ``notification.requested``).
INTERNAL_EVENT_TYPES = frozenset({"notification.requested"})

STATUSES = ("pending", "succeeded", "failed", "dead")
RETRYABLE = ("pending", "failed")

# --------------------------------------------------------------------------- secrets and signatures


def generate_secret() -> str:
    """``whsec_`` + base64 of 24 random bytes (the Standard Webhooks secret format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    return base64.b64decode(raw + "==")


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` (Standard Webhooks)."""
    mac = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def active_secrets(secret: str, previous: str | None, previous_expires_at: datetime | None,
                   now: datetime) -> list[str]:
    """The secrets that sign now: the current one, plus the previous one during the overlap."""
    out = [secret]
    if previous and previous_expires_at is not None and now < previous_expires_at:
        out.append(previous)
    return out


def signature_header(signing_secrets: Sequence[str], msg_id: str, timestamp: int, body: str) -> str:
    """Space-separated signatures, one per active secret (the spec's rotation mechanism)."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in signing_secrets)


def headers_for(signing_secrets: Sequence[str], msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(signing_secrets, msg_id, timestamp, body),
        "user-agent": "Mercato-Webhooks/1.0",
    }


def body_of(event_type: str, occurred_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The JSON body: ``{"type", "timestamp", "data"}``."""
    return {"type": event_type, "timestamp": occurred_at.isoformat(), "data": data}


# --------------------------------------------------------------------------- events


def wants(event_types: Iterable[str], event_type: str) -> bool:
    """Does an endpoint subscribed to ``event_types`` (empty: all) receive ``event_type``?"""
    if event_type in INTERNAL_EVENT_TYPES:
        return False
    types = list(event_types)
    return not types or event_type in types


# --------------------------------------------------------------------------- retries


def retry_delay(attempts_made: int, schedule: Sequence[float] = RETRY_SCHEDULE_SECONDS,
                jitter: float = RETRY_JITTER, rng: random.Random | None = None) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` failed ones; None: give up."""
    if attempts_made < 1 or attempts_made > len(schedule):
        return None
    base = schedule[attempts_made - 1]
    r = (rng or random).uniform(-jitter, jitter)
    return max(0.0, base * (1 + r))


def should_disable(failing_since: datetime | None, now: datetime, period: timedelta = FAILING_PERIOD) -> bool:
    return failing_since is not None and now - failing_since >= period


def is_success(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


# --------------------------------------------------------------------------- URLs and addresses

#: Cloud metadata services, refused explicitly (they are link-local/ULA anyway).
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                                ipaddress.ip_address("100.100.100.200")})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """An IPv4 address hidden in an IPv6 one (mapped, NAT64, 6to4, compatible): checked as IPv4."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if int(ip) >> 32 == 0 and int(ip) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(ip))
    return None


def address_problem(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why a webhook may not connect to ``ip`` (None: it may). Only public unicast addresses pass;
    ``allow_loopback`` (dev and test only) lets loopback through, nothing else."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            problem = address_problem(inner, allow_loopback=allow_loopback)
            return f"{problem} (embedded in {ip})" if problem else None
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"
    return None


def parse_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def is_loopback_host(host: str) -> bool:
    ip = parse_ip(host)
    if ip is not None:
        return ip.is_loopback
    h = host.lower().rstrip(".")
    return h in LOOPBACK_NAMES or h.endswith(".localhost")


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # without brackets, lowercase
    port: int
    parts: SplitResult


def url_problem(url: str, *, production: bool) -> str | None:
    """Static rules on a webhook URL (no DNS): https (http only to loopback outside production),
    a host, no credentials, no fragment; an IP literal must be an allowed address."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("https", "http"):
        return "must be an https:// URL"
    if not host:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not contain credentials (put them in a header of your receiver, or in the path)"
    if parts.fragment:
        return "must not contain a fragment"
    if port == 0:
        return "has an invalid port"
    loopback = is_loopback_host(host)
    if scheme == "http" and (production or not loopback):
        return "must use https (plain http is allowed only to loopback in development)"
    if production and loopback:
        return "must not point at this machine"
    ip = parse_ip(host)
    if ip is not None:
        problem = address_problem(ip, allow_loopback=not production)
        if problem:
            return f"points at {problem}"
    return None


def target_of(url: str) -> Target:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return Target(url=url, scheme=scheme, host=(parts.hostname or "").lower(), port=port, parts=parts)
