"""Tenant lifecycle: active ⇄ suspended."""

from __future__ import annotations

from mercato.platform.errors import IllegalTransition

TENANT_TRANSITIONS: dict[str, frozenset[str]] = {
    "active": frozenset({"suspended"}),
    "suspended": frozenset({"active"}),
}

RESERVED_SLUGS = frozenset({"www", "api", "admin", "app", "mail", "static", "docs", "status", "platform"})


def check_transition(current: str, target: str) -> None:
    allowed = TENANT_TRANSITIONS.get(current, frozenset())
    if target not in allowed:
        raise IllegalTransition(current, target, list(allowed))
