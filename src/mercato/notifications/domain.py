"""Pure rules of notifications: template keys, locale fallback, masking, statuses, retry backoff.

No I/O here; unit-tested directly (tests/notifications/test_notification_rules.py).
"""

from __future__ import annotations

import random
import re
import uuid
from enum import StrEnum

from mercato.platform.errors import IllegalTransition

#: The templates Mercato ships (English defaults for every one; some translated).
TEMPLATE_KEYS: tuple[str, ...] = (
    "welcome", "email_verification", "password_reset", "staff_invitation",
    "order_confirmation", "payment_failed", "order_shipped", "order_delivered", "order_cancelled",
    "order_refunded", "return_approved", "account_deactivated", "low_stock", "webhook_endpoint_disabled",
    "fulfillment_failed",
)
#: Unknown template names render with this one (it lists the context, so nothing is lost).
FALLBACK_TEMPLATE = "generic"
DEFAULT_LOCALE = "en"

CHANNELS: tuple[str, ...] = ("email", "sms", "push")

TEMPLATE_KEY_RE = re.compile(r"^[a-z0-9_]{1,64}$")
LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")

#: Deterministic ids: the same (event, recipient, template) always names the same message, so a
#: redelivered event finds its own row (and the file sink rewrites its own file).
_ID_NAMESPACE = uuid.UUID("6f1c7a52-3f0e-4c59-9b1e-4d1f6a2f7e10")


class Status(StrEnum):
    QUEUED = "queued"  # waiting for its first or next attempt
    SENT = "sent"
    FAILED = "failed"  # gave up after MAX_ATTEMPTS (or the message cannot be built)
    BOUNCED = "bounced"  # the server refused the recipient for good (5xx)


STATUSES: tuple[str, ...] = tuple(s.value for s in Status)

_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.QUEUED, Status.SENT, Status.FAILED, Status.BOUNCED}),
    Status.SENT: frozenset({Status.BOUNCED}),  # an asynchronous bounce report may still arrive
    Status.FAILED: frozenset(),
    Status.BOUNCED: frozenset(),
}

#: Attempts per message, the first one included; then the message is ``failed``.
MAX_ATTEMPTS = 5
#: Base delays (seconds) before attempt 2, 3, 4, 5 — jittered by :func:`retry_delay`.
RETRY_SCHEDULE: tuple[float, ...] = (30.0, 120.0, 600.0, 1800.0)


def check_transition(current: str, target: str) -> None:
    allowed = _TRANSITIONS[Status(current)]
    if Status(target) not in allowed:
        raise IllegalTransition(current, target, sorted(a.value for a in allowed))


def retry_delay(attempts: int, schedule: tuple[float, ...] = RETRY_SCHEDULE) -> float:
    """Seconds to wait after ``attempts`` failed attempts (≥ 1): the schedule's step ±20 % jitter."""
    base = schedule[min(max(attempts, 1), len(schedule)) - 1]
    return base * (0.8 + 0.4 * random.random())  # noqa: S311 - jitter, not security


def gives_up(attempts: int, max_attempts: int = MAX_ATTEMPTS) -> bool:
    return attempts >= max_attempts


def valid_key(key: str) -> bool:
    return bool(TEMPLATE_KEY_RE.match(key or ""))


def normalize_locale(locale: str | None) -> str | None:
    """``de_at``/``DE-at`` → ``de-AT``; ``None`` for anything that is not a locale tag."""
    if not locale or not LOCALE_RE.match(locale):
        return None
    lang, _, region = locale.replace("_", "-").partition("-")
    return f"{lang.lower()}-{region.upper() if len(region) == 2 else region}" if region else lang.lower()


def locale_candidates(locale: str | None) -> list[str]:
    """Exact → language → English: ``fr-CA`` → ``[fr-CA, fr, en]``."""
    out: list[str] = []
    norm = normalize_locale(locale)
    if norm:
        out.append(norm)
        out.append(norm.split("-")[0])
    out.append(DEFAULT_LOCALE)
    return list(dict.fromkeys(out))


def message_id(tenant_id: uuid.UUID, *, source: str, channel: str, template: str, recipient: str) -> uuid.UUID:
    """The id of one message: ``source`` is the triggering event id, or a business key
    (``order_confirmation:<order id>``) when one message per business fact is wanted."""
    return uuid.uuid5(_ID_NAMESPACE, f"{tenant_id}|{source}|{channel}|{template}|{recipient.strip().lower()}")


def mask_email(address: str) -> str:
    """``jane@example.com`` → ``j***@example.com`` (API output and logs never carry full addresses)."""
    local, at, domain = (address or "").partition("@")
    if not at or not local:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_phone(number: str) -> str:
    """``+447700900789`` → ``+44******789``: country code and the last three digits stay."""
    digits = re.sub(r"[^\d]", "", number or "")
    if len(digits) < 6:
        return "***"
    head = "+" + digits[:2] if (number or "").strip().startswith("+") else digits[:2]
    return f"{head}{'*' * (len(digits) - 5)}{digits[-3:]}"


def mask_recipient(recipient: str, channel: str) -> str:
    if channel == "email" or "@" in (recipient or ""):
        return mask_email(recipient)
    if channel == "sms":
        return mask_phone(recipient)
    # push: a device token or user id; show only its tail
    return f"***{recipient[-4:]}" if len(recipient or "") > 8 else "***"
