"""The one pricing function: cart lines + promotions + tax rates + shipping → totals.

Pure (no I/O, no clock): carts show its result on every read, checkout shows it
before payment, and order creation snapshots it — so the three can never disagree.

All amounts are integers in the currency's minor unit (cents; whole yen for JPY).
A fractional intermediate (a percentage discount, a tax) is rounded half-up to an
integer minor unit once, where it arises (:func:`mercato.platform.money.percent_of`).

Order of operations (see docs/pricing.md):

1. ``line.subtotal = unit_price × quantity``; ``subtotal = Σ line.subtotal``.
2. Promotions, item-level first (buy X get Y, product/category-targeted), then
   order-level, then free shipping. Each works on what earlier ones left of a line,
   so a line's discount never exceeds its subtotal. An order-level amount is
   allocated to lines in proportion to their remaining amounts with the
   largest-remainder method, so allocations sum to the discount exactly.
3. Tax per line on ``subtotal − discount`` with the rate of the line's tax class:
   added on top (tax-exclusive prices, the default) or extracted from the price
   (tax-inclusive prices). Shipping is taxed only when a shipping rate is given.
4. ``total = subtotal − discount_total + shipping_total − shipping_discount + tax_total``
   (tax-exclusive) or without ``+ tax_total`` (tax-inclusive: the tax is inside).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from mercato.platform.money import check_currency, percent_of, round_minor

PromotionKind = Literal["percentage_off", "fixed_amount_off", "free_shipping", "buy_x_get_y"]
PROMOTION_KINDS: tuple[str, ...] = ("percentage_off", "fixed_amount_off", "free_shipping", "buy_x_get_y")
DEFAULT_TAX_CLASS = "standard"


@dataclass(frozen=True)
class PriceLine:
    """One cart/order line as pricing sees it. ``key`` identifies it in the result."""

    key: Hashable
    unit_price: int
    quantity: int
    product_id: Any = None
    category_id: Any = None
    tax_class: str = DEFAULT_TAX_CLASS

    def __post_init__(self) -> None:
        if not _is_int(self.unit_price) or self.unit_price < 0:
            raise ValueError("unit_price must be a non-negative int of minor units")
        if not _is_int(self.quantity) or self.quantity <= 0:
            raise ValueError("quantity must be a positive int")


@dataclass(frozen=True)
class PromotionRule:
    """What pricing needs to know of a promotion (validity, usage and stacking are checked
    by the promotions module before a rule gets here; only the minimum subtotal and the
    currency are re-checked, because they depend on the cart as it is now)."""

    id: Any
    code: str
    kind: PromotionKind
    #: percentage_off: the percent; buy_x_get_y: percent off the "get" units (100 = free)
    percent: Decimal | None = None
    #: fixed_amount_off: minor units of ``currency``
    amount: int | None = None
    currency: str | None = None
    product_ids: frozenset[Any] = frozenset()
    category_ids: frozenset[Any] = frozenset()
    buy_quantity: int = 0
    get_quantity: int = 0
    minimum_subtotal: int | None = None

    @property
    def targeted(self) -> bool:
        return bool(self.product_ids or self.category_ids)

    def targets(self, line: PriceLine) -> bool:
        if not self.targeted:
            return True
        return line.product_id in self.product_ids or (
            line.category_id is not None and line.category_id in self.category_ids)


@dataclass(frozen=True)
class LineTotals:
    key: Hashable
    unit_price: int
    quantity: int
    subtotal: int
    discount: int
    tax_rate: Decimal
    tax: int
    #: what the line contributes to the total: subtotal − discount (+ tax when tax-exclusive)
    total: int


@dataclass(frozen=True)
class AppliedPromotion:
    id: Any
    code: str
    kind: str
    discount: int
    shipping_discount: int


@dataclass(frozen=True)
class RejectedPromotion:
    id: Any
    code: str
    #: a problem code: coupon_minimum_not_met, coupon_not_applicable, coupon_currency_mismatch
    reason: str


@dataclass(frozen=True)
class Totals:
    currency: str
    prices_include_tax: bool
    lines: tuple[LineTotals, ...]
    subtotal: int
    discount_total: int
    shipping_total: int
    shipping_discount: int
    shipping_tax: int
    tax_total: int
    total: int
    applied: tuple[AppliedPromotion, ...] = field(default_factory=tuple)
    rejected: tuple[RejectedPromotion, ...] = field(default_factory=tuple)

    def line(self, key: Hashable) -> LineTotals:
        return next(line for line in self.lines if line.key == key)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# --------------------------------------------------------------------------- building blocks


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """Split ``amount`` over ``weights`` proportionally, in integers that sum to ``amount``
    exactly (largest-remainder method; ties go to the earlier weight).

    With ``0 <= amount <= sum(weights)`` no share exceeds its weight.
    """
    if amount < 0 or any(w < 0 for w in weights):
        raise ValueError("amount and weights must be non-negative")
    total = sum(weights)
    if total == 0:
        if amount:
            raise ValueError("cannot allocate a non-zero amount over zero weights")
        return [0] * len(weights)
    shares = [amount * w // total for w in weights]
    remainders = [amount * w % total for w in weights]
    left = amount - sum(shares)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        shares[i] += 1
    return shares


def tax_exclusive(amount: int, rate: Decimal) -> int:
    """Tax added on top of a tax-exclusive ``amount`` at ``rate`` percent."""
    return percent_of(amount, rate) if amount and rate else 0


def tax_inclusive(amount: int, rate: Decimal) -> int:
    """Tax contained in a tax-inclusive ``amount`` at ``rate`` percent: amount − amount / (1 + rate)."""
    if not amount or not rate:
        return 0
    net = round_minor(Decimal(amount) * 100 / (100 + Decimal(rate)))
    return amount - net


# --------------------------------------------------------------------------- promotions

_ORDER = {"buy_x_get_y": 0, "percentage_off": 1, "fixed_amount_off": 1, "free_shipping": 2}


def _sequence(promotions: Iterable[PromotionRule]) -> list[PromotionRule]:
    """Item-level rules first, then order-level, then free shipping (stable within a class)."""
    def rank(p: PromotionRule) -> int:
        base = _ORDER[p.kind]
        return base if p.kind in ("buy_x_get_y", "free_shipping") or p.targeted else base + 1
    return sorted(promotions, key=rank)


def _buy_x_get_y(rule: PromotionRule, lines: Sequence[PriceLine], remaining: list[int]) -> list[int]:
    """Per line discount: in every group of X + Y eligible units, the Y cheapest get ``percent`` off."""
    group = rule.buy_quantity + rule.get_quantity
    eligible = [i for i, line in enumerate(lines) if rule.targets(line)]
    units = sum(lines[i].quantity for i in eligible)
    if group <= 0 or rule.get_quantity <= 0 or units < group:
        return [0] * len(lines)
    free = (units // group) * rule.get_quantity
    percent = rule.percent if rule.percent is not None else Decimal(100)
    out = [0] * len(lines)
    for i in sorted(eligible, key=lambda i: (lines[i].unit_price, i)):  # cheapest first
        if free <= 0:
            break
        n = min(free, lines[i].quantity)
        free -= n
        out[i] = min(percent_of(lines[i].unit_price * n, percent), remaining[i])
    return out


def _spread(amount: int, eligible: list[int], remaining: list[int]) -> list[int]:
    out = [0] * len(remaining)
    weights = [remaining[i] for i in eligible]
    amount = min(amount, sum(weights))
    for i, share in zip(eligible, allocate(amount, weights), strict=True):
        out[i] = share
    return out


def _rule_discount(rule: PromotionRule, lines: Sequence[PriceLine], remaining: list[int]) -> list[int]:
    if rule.kind == "buy_x_get_y":
        return _buy_x_get_y(rule, lines, remaining)
    eligible = [i for i, line in enumerate(lines) if rule.targets(line)]
    base = sum(remaining[i] for i in eligible)
    if rule.kind == "percentage_off":
        amount = percent_of(base, rule.percent or 0)
    else:  # fixed_amount_off
        amount = rule.amount or 0
    return _spread(max(0, amount), eligible, remaining)


def _rejection(rule: PromotionRule, lines: Sequence[PriceLine], subtotal: int, currency: str) -> str | None:
    if rule.currency and rule.currency != currency and (rule.amount or rule.minimum_subtotal):
        return "coupon_currency_mismatch"
    if rule.minimum_subtotal is not None and subtotal < rule.minimum_subtotal:
        return "coupon_minimum_not_met"
    if rule.kind != "free_shipping" and not any(rule.targets(line) for line in lines):
        return "coupon_not_applicable"
    return None


# --------------------------------------------------------------------------- the function


def price_cart(
    lines: Sequence[PriceLine],
    *,
    currency: str,
    promotions: Sequence[PromotionRule] = (),
    tax_rates: Mapping[str, Decimal] | None = None,
    shipping_rate: int | None = None,
    shipping_tax_rate: Decimal | None = None,
    prices_include_tax: bool = False,
) -> Totals:
    """Price a cart. Pure and deterministic.

    ``tax_rates`` maps a tax class to a percent (``Decimal("19")`` for 19 %); a class
    without a rate (or no mapping: address unknown) is taxed at 0. ``shipping_rate`` is
    the chosen method's price (``None``: no method chosen yet). ``shipping_tax_rate``
    taxes shipping (after its discount) when given. With ``prices_include_tax`` every
    price (line and shipping) already contains its tax, which is extracted, not added.
    """
    currency = check_currency(currency)
    tax_rates = tax_rates or {}
    keys = [line.key for line in lines]
    if len(set(keys)) != len(keys):
        raise ValueError("line keys must be unique")
    if shipping_rate is not None and (not _is_int(shipping_rate) or shipping_rate < 0):
        raise ValueError("shipping_rate must be a non-negative int of minor units")

    subtotals = [line.unit_price * line.quantity for line in lines]
    subtotal = sum(subtotals)
    remaining = list(subtotals)
    shipping_total = shipping_rate or 0
    shipping_discount = 0
    applied: list[AppliedPromotion] = []
    rejected: list[RejectedPromotion] = []

    for rule in _sequence(promotions):
        reason = _rejection(rule, lines, subtotal, currency)
        if reason:
            rejected.append(RejectedPromotion(rule.id, rule.code, reason))
            continue
        if rule.kind == "free_shipping":
            ship_off = shipping_total - shipping_discount
            shipping_discount += ship_off
            applied.append(AppliedPromotion(rule.id, rule.code, rule.kind, 0, ship_off))
            continue
        shares = _rule_discount(rule, lines, remaining)
        for i, share in enumerate(shares):
            remaining[i] -= share
        applied.append(AppliedPromotion(rule.id, rule.code, rule.kind, sum(shares), 0))

    line_totals: list[LineTotals] = []
    tax_fn = tax_inclusive if prices_include_tax else tax_exclusive
    for line, sub, rest in zip(lines, subtotals, remaining, strict=True):
        rate = Decimal(tax_rates.get(line.tax_class, 0))
        tax = tax_fn(rest, rate)
        line_totals.append(LineTotals(
            key=line.key, unit_price=line.unit_price, quantity=line.quantity, subtotal=sub, discount=sub - rest,
            tax_rate=rate, tax=tax, total=rest if prices_include_tax else rest + tax))

    discount_total = subtotal - sum(remaining)
    shipping_tax = tax_fn(shipping_total - shipping_discount, Decimal(shipping_tax_rate or 0))
    tax_total = sum(lt.tax for lt in line_totals) + shipping_tax
    total = subtotal - discount_total + shipping_total - shipping_discount
    if not prices_include_tax:
        total += tax_total
    return Totals(
        currency=currency, prices_include_tax=prices_include_tax, lines=tuple(line_totals), subtotal=subtotal,
        discount_total=discount_total, shipping_total=shipping_total, shipping_discount=shipping_discount,
        shipping_tax=shipping_tax, tax_total=tax_total, total=total, applied=tuple(applied),
        rejected=tuple(rejected))


__all__ = ["DEFAULT_TAX_CLASS", "PROMOTION_KINDS", "AppliedPromotion", "LineTotals", "PriceLine", "PromotionKind",
           "PromotionRule", "RejectedPromotion", "Totals", "allocate", "price_cart", "tax_exclusive", "tax_inclusive"]
