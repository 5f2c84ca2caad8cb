"""Shipping rules: which zone serves an address, what a method costs for a cart."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from mercato.platform.errors import ValidationFailed

RATE_TYPES = ("flat", "weight", "subtotal", "free_above")


class ZoneLike(Protocol):
    countries: Sequence[str]
    regions: Sequence[str]


class MethodLike(Protocol):
    rate_type: str
    currency: str
    flat_rate_cents: int | None
    brackets: Sequence[Mapping[str, Any]]
    free_above_cents: int | None
    is_active: bool


def normalize_region(country: str, region: str | None) -> str:
    return (region or "").strip().upper().removeprefix(f"{country.upper()}-")


def zone_serves(zone: ZoneLike, country: str, region: str | None) -> bool:
    """The address's country is in the zone and, if the zone lists regions, so is its region."""
    country = country.upper()
    if country not in {c.upper() for c in zone.countries}:
        return False
    if not zone.regions:
        return True
    wanted = normalize_region(country, region)
    return bool(wanted) and wanted in {normalize_region(country, r) for r in zone.regions}


def bracket_rate(brackets: Sequence[Mapping[str, Any]], value: int) -> int | None:
    """The rate of the first bracket whose ``up_to`` (inclusive; None = unbounded) holds ``value``."""
    for b in brackets:
        if b.get("up_to") is None or value <= int(b["up_to"]):
            return int(b["rate_cents"])
    return None


def method_price(method: MethodLike, *, weight_grams: int, subtotal: int) -> int | None:
    """The price of shipping the cart with ``method``, or None if the method cannot ship it
    (inactive, or beyond its last bracket)."""
    if not method.is_active:
        return None
    if method.free_above_cents is not None and subtotal >= method.free_above_cents:
        return 0
    if method.rate_type in ("flat", "free_above"):
        return method.flat_rate_cents or 0
    if method.rate_type == "weight":
        return bracket_rate(method.brackets, weight_grams)
    if method.rate_type == "subtotal":
        return bracket_rate(method.brackets, subtotal)
    return None


def check_method(v: Mapping[str, Any]) -> None:
    """A method's definition is complete for its rate type (``v``: all values after create/update)."""
    rate_type = v["rate_type"]
    if rate_type in ("flat", "free_above") and v.get("flat_rate_cents") is None:
        raise ValidationFailed(f"{rate_type} rates need flat_rate_cents", field="flat_rate_cents")
    if rate_type == "free_above" and v.get("free_above_cents") is None:
        raise ValidationFailed("free_above rates need free_above_cents", field="free_above_cents")
    if rate_type in ("weight", "subtotal"):
        brackets = v.get("brackets") or []
        if not brackets:
            raise ValidationFailed(f"{rate_type} rates need at least one bracket", field="brackets")
        bounds = [b.get("up_to") for b in brackets]
        if None in bounds[:-1]:
            raise ValidationFailed("only the last bracket may be unbounded (up_to null)", field="brackets")
        finite = [int(b) for b in bounds if b is not None]
        if any(b <= a for a, b in itertools.pairwise(finite)):
            raise ValidationFailed("bracket up_to values must increase", field="brackets")
    lo, hi = v.get("min_delivery_days"), v.get("max_delivery_days")
    if lo is not None and hi is not None and hi < lo:
        raise ValidationFailed("max_delivery_days must be >= min_delivery_days", field="max_delivery_days")
