"""Which tax rate applies: the most specific matching row wins.

A row matches an address when the country is equal, its region is empty or equal, and its
postal prefix is empty or a prefix of the postal code (compared without spaces, upper-cased).
Specificity: a postal-prefix match beats a region match beats a country-wide rate, and a longer
postal prefix beats a shorter one.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol


class RateLike(Protocol):
    country: str
    region: str
    postal_prefix: str
    tax_class: str
    rate: Decimal


def compact_postal(value: str | None) -> str:
    return "".join((value or "").split()).upper()


def normalize_region(country: str, region: str | None) -> str:
    """``US-CA`` and ``ca`` both mean region ``CA`` of the US."""
    value = (region or "").strip().upper()
    return value.removeprefix(f"{country.upper()}-")


def matches(rate: RateLike, country: str, region: str | None, postal_code: str | None) -> bool:
    if rate.country != country.upper():
        return False
    if rate.region and rate.region != normalize_region(country, region):
        return False
    return not rate.postal_prefix or compact_postal(postal_code).startswith(compact_postal(rate.postal_prefix))


def specificity(rate: RateLike) -> tuple[int, int, int]:
    return (1 if rate.postal_prefix else 0, len(compact_postal(rate.postal_prefix)), 1 if rate.region else 0)


def best_rate(rates: Iterable[RateLike], *, country: str, region: str | None, postal_code: str | None,
              tax_class: str) -> RateLike | None:
    candidates = [r for r in rates if r.tax_class == tax_class and matches(r, country, region, postal_code)]
    return max(candidates, key=specificity, default=None)


def rates_by_class(rates: Iterable[RateLike], *, country: str, region: str | None, postal_code: str | None,
                   tax_classes: Iterable[str]) -> dict[str, Decimal]:
    """Percent per tax class for an address (classes without any matching row are absent: 0 %)."""
    rows = list(rates)
    out: dict[str, Decimal] = {}
    for tax_class in set(tax_classes):
        best = best_rate(rows, country=country, region=region, postal_code=postal_code, tax_class=tax_class)
        if best is not None:
            out[tax_class] = Decimal(best.rate)
    return out
