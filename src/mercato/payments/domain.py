"""Payment rules: the status machine, the refund limit, what may be kept of a gateway response.

Pure functions, no I/O. A payment's status is only ever moved by a *gateway fact* (an API
response or a verified webhook) through :func:`check_transition`; refunds are bounded by
:func:`check_refund`, and the database repeats that bound as CHECK constraints.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from mercato.payments.errors import RefundExceedsCaptured
from mercato.platform.errors import IllegalTransition, ValidationFailed


class PaymentStatus(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Method(StrEnum):
    TEST = "test"
    MANUAL = "manual"
    STRIPE = "stripe"


S = PaymentStatus

#: Allowed moves. ``failed`` is not final: a Stripe PaymentIntent whose card was declined can be
#: confirmed again with another card, and if the gateway then reports success, money was taken
#: and must be recorded. ``cancelled`` and ``refunded`` are final.
PAYMENT_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    S.PENDING: frozenset({S.REQUIRES_ACTION, S.AUTHORIZED, S.CAPTURED, S.FAILED, S.CANCELLED}),
    S.REQUIRES_ACTION: frozenset({S.PENDING, S.AUTHORIZED, S.CAPTURED, S.FAILED, S.CANCELLED}),
    S.AUTHORIZED: frozenset({S.CAPTURED, S.FAILED, S.CANCELLED}),
    S.FAILED: frozenset({S.REQUIRES_ACTION, S.AUTHORIZED, S.CAPTURED, S.CANCELLED}),
    S.CAPTURED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}

TERMINAL = frozenset(s for s, nxt in PAYMENT_TRANSITIONS.items() if not nxt)
#: Statuses in which money has been taken (refunds are possible).
SETTLED = frozenset({S.CAPTURED, S.PARTIALLY_REFUNDED, S.REFUNDED})


def can_transition(current: str, target: str) -> bool:
    return PaymentStatus(target) in PAYMENT_TRANSITIONS[PaymentStatus(current)]


def check_transition(current: str, target: str) -> None:
    """Raise ``IllegalTransition`` (409, listing the allowed targets) unless ``current → target`` is allowed."""
    allowed = PAYMENT_TRANSITIONS[PaymentStatus(current)]
    if PaymentStatus(target) not in allowed:
        raise IllegalTransition(current, target, [str(s) for s in allowed])


def status_after_refunds(amount_captured: int, amount_refunded: int) -> PaymentStatus:
    """The status of a settled payment given what was captured and what was refunded so far."""
    if amount_refunded <= 0:
        return S.CAPTURED
    return S.REFUNDED if amount_refunded >= amount_captured else S.PARTIALLY_REFUNDED


def refundable(amount_captured: int, amount_refunded: int, amount_pending: int = 0) -> int:
    """What may still be refunded: captured minus refunded minus refunds still in flight."""
    return max(0, amount_captured - amount_refunded - amount_pending)


def check_refund(*, status: str, amount_captured: int, amount_refunded: int, amount_pending: int, amount: int) -> None:
    """A refund of ``amount`` must be positive and fit in what was captured and not yet refunded."""
    if amount <= 0:
        raise ValidationFailed("refund amount must be positive", field="amount")
    if PaymentStatus(status) not in SETTLED:
        raise RefundExceedsCaptured(f"payment is {status}: nothing captured to refund", refundable=0)
    left = refundable(amount_captured, amount_refunded, amount_pending)
    if amount > left:
        raise RefundExceedsCaptured(f"refund of {amount} exceeds the refundable {left}", refundable=left)


def check_capture_amount(authorized: int, amount: int | None) -> int:
    """Capture at most what was authorized (``None``: all of it)."""
    if amount is None:
        return authorized
    if amount <= 0 or amount > authorized:
        raise ValidationFailed(f"capture amount must be between 1 and {authorized}", field="amount")
    return amount


# --------------------------------------------------------------------------- gateway responses

_SECRET_KEY = re.compile(
    r"secret|password|passwd|token|api[_-]?key|authori[sz]ation|cookie|signature|^cvc$|^cvv$|card[_-]?number|"
    r"^number$|^pan$|^iban$|^account[_-]?number$|^routing[_-]?number$|^exp[_-]?(month|year)$",
    re.IGNORECASE)
_SECRET_VALUE = re.compile(
    r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+|whsec_[A-Za-z0-9+/=]+|pi_[A-Za-z0-9]+_secret_[A-Za-z0-9]+|"
    r"seti_[A-Za-z0-9]+_secret_[A-Za-z0-9]+|cs_(?:live|test)_[A-Za-z0-9]+#[A-Za-z0-9%]+|\b\d{13,19}\b")
REDACTED = "[redacted]"


def strip_secrets(value: Any, *, _depth: int = 0) -> Any:
    """A copy of a gateway response fit to keep for debugging: secret-looking keys are redacted
    (client secrets, API keys, tokens, card numbers, CVC, expiry, bank numbers), and so are
    secret-looking values wherever they appear (``sk_…``, ``whsec_…``, ``pi_…_secret_…``, PANs)."""
    if _depth > 20:
        return REDACTED
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) and v not in (None, "", {}, [])
                    else strip_secrets(v, _depth=_depth + 1))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strip_secrets(v, _depth=_depth + 1) for v in value]
    if isinstance(value, str):
        return _SECRET_VALUE.sub(REDACTED, value)
    return value
