"""Catalog rules without I/O: slugs, currencies, option/variant consistency, the category path."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------- slugs

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_length: int = 180) -> str:
    """``"Crème Brûlée T-Shirt!"`` → ``"creme-brulee-t-shirt"``; never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NON_ALNUM.sub("-", ascii_text.lower()).strip("-")[:max_length].strip("-")
    return slug or "item"


def next_free_slug(base: str, taken: Iterable[str]) -> str:
    """``base`` if free, else the first of ``base-2``, ``base-3``, … not in ``taken``."""
    used = set(taken)
    if base not in used:
        return base
    n = 2
    while f"{base}-{n}" in used:
        n += 1
    return f"{base}-{n}"


def looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- money

#: ISO 4217 codes we accept, with their minor units (decimal places). JPY, KRW, … have none.
CURRENCY_EXPONENTS: dict[str, int] = {
    "USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "CHF": 2, "CAD": 2, "AUD": 2, "NZD": 2, "SEK": 2, "NOK": 2,
    "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "RON": 2, "BGN": 2, "ISK": 0, "TRY": 2, "CNY": 2, "HKD": 2,
    "SGD": 2, "KRW": 0, "INR": 2, "IDR": 2, "THB": 2, "MYR": 2, "PHP": 2, "VND": 0, "TWD": 2, "ILS": 2,
    "AED": 2, "SAR": 2, "ZAR": 2, "BRL": 2, "MXN": 2, "ARS": 2, "CLP": 0, "COP": 2, "PEN": 2, "UAH": 2,
    "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3, "EGP": 2, "NGN": 2, "KES": 2, "MAD": 2, "PKR": 2,
}


def currency_exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS[currency]


def format_minor(amount: int, currency: str) -> str:
    """Minor units as a decimal string: ``1999 USD`` → ``"19.99"``, ``1500 JPY`` → ``"1500"``."""
    exp = CURRENCY_EXPONENTS.get(currency, 2)
    if exp == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp)
    return f"{sign}{whole}.{frac:0{exp}d}"


# --------------------------------------------------------------------------- options and variants


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


def option_problems(options: Sequence[tuple[str, Sequence[str]]], prefix: str = "options") -> list[Problem]:
    """Option names unique (case-insensitively), each with at least one value, values unique."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, (name, values) in enumerate(options):
        key = name.strip().lower()
        if key in seen:
            problems.append(Problem(f"{prefix}.{i}.name", "duplicate_option", f"option {name!r} is listed twice"))
        seen.add(key)
        if not values:
            problems.append(Problem(f"{prefix}.{i}.values", "no_values", f"option {name!r} needs at least one value"))
        if len({v.strip().lower() for v in values}) != len(values):
            problems.append(Problem(f"{prefix}.{i}.values", "duplicate_value", f"option {name!r} repeats a value"))
    return problems


def variant_option_problems(options: Mapping[str, Sequence[str]], variant_options: Mapping[str, Any],
                            prefix: str) -> list[Problem]:
    """A variant names exactly one existing value of every product option, and nothing else."""
    problems: list[Problem] = []
    for name, value in variant_options.items():
        if name not in options:
            problems.append(Problem(f"{prefix}.options.{name}", "unknown_option",
                                    f"the product has no option {name!r}"))
        elif value not in options[name]:
            problems.append(Problem(f"{prefix}.options.{name}", "unknown_option_value",
                                    f"{value!r} is not a value of option {name!r} ({', '.join(options[name])})"))
    for name in options:
        if name not in variant_options:
            problems.append(Problem(f"{prefix}.options.{name}", "missing_option", f"a value for {name!r} is required"))
    return problems


def combination_key(variant_options: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in variant_options.items()))


def price_problems(price_cents: int | None, compare_at_cents: int | None, currency: str | None,
                   prefix: str) -> list[Problem]:
    problems: list[Problem] = []
    if currency is not None and currency not in CURRENCY_EXPONENTS:
        problems.append(Problem(f"{prefix}.currency", "unknown_currency", f"{currency!r} is not a supported ISO 4217 code"))
    if price_cents is not None and compare_at_cents is not None and compare_at_cents < price_cents:
        problems.append(Problem(f"{prefix}.compare_at_price_cents", "compare_at_below_price",
                                "compare_at_price_cents must be at least price_cents"))
    return problems


# --------------------------------------------------------------------------- category tree


def child_path(parent_path: str | None, category_id: uuid.UUID) -> str:
    """Materialized path: ``/<root id>/…/<own id>/``."""
    return f"{parent_path or '/'}{category_id}/"


def path_ids(path: str) -> list[uuid.UUID]:
    """Ancestors then self, root first."""
    return [uuid.UUID(p) for p in path.strip("/").split("/") if p]


def would_cycle(moving_path: str, new_parent_path: str) -> bool:
    """Moving a category under itself or one of its descendants would close a loop."""
    return new_parent_path.startswith(moving_path)


def nest(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Flat rows (each with ``id`` and ``parent_id``; parents need not come first) → nested trees.
    A row whose parent is absent (e.g. filtered out) becomes a root."""
    nodes = {r["id"]: {**r, "children": []} for r in rows}
    roots: list[dict[str, Any]] = []
    for r in rows:
        node = nodes[r["id"]]
        parent = nodes.get(r["parent_id"]) if r["parent_id"] else None
        (parent["children"] if parent is not None else roots).append(node)
    return roots
