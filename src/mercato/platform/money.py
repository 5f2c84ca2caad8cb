"""Money: integer minor units plus an ISO 4217 currency. Never floats.

``amount`` is always in the currency's minor unit: cents for USD/EUR/GBP, whole
yen for JPY (0 decimals). Rounding of fractional results (tax, percentage
discounts) is half-up on ``Decimal``, once, at the line level.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from mercato.platform.errors import ValidationFailed

#: ISO 4217 currencies we accept, with their number of minor-unit digits.
MINOR_UNITS: dict[str, int] = {
    "USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "CAD": 2, "AUD": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2,
    "PLN": 2, "CZK": 2, "NZD": 2, "SGD": 2, "HKD": 2, "MXN": 2, "BRL": 2, "INR": 2, "KRW": 0, "CNY": 2,
}


class UnsupportedCurrency(ValidationFailed):
    code, title = "unsupported_currency", "Unsupported currency"


class CurrencyMismatch(ValidationFailed):
    code, title = "currency_mismatch", "Amounts in different currencies"


def check_currency(code: str, field: str = "currency") -> str:
    c = (code or "").upper()
    if c not in MINOR_UNITS:
        raise UnsupportedCurrency(f"{code!r} is not a supported ISO 4217 currency", field=field)
    return c


def minor_units(currency: str) -> int:
    return MINOR_UNITS[check_currency(currency)]


def round_minor(value: Decimal) -> int:
    """Round a fractional amount of minor units to an integer, half-up."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_of(amount: int, percent: Decimal | int | str) -> int:
    """``percent`` % of ``amount`` minor units, rounded half-up (e.g. 10 % of 999 = 100)."""
    return round_minor(Decimal(amount) * Decimal(str(percent)) / Decimal(100))


def to_decimal(amount: int, currency: str) -> Decimal:
    """Minor units → major units as a Decimal (for display / external APIs that want it)."""
    return Decimal(amount).scaleb(-minor_units(currency))


def format_money(amount: int, currency: str) -> str:
    digits = minor_units(currency)
    return f"{to_decimal(amount, currency):,.{digits}f} {currency}"


@dataclass(frozen=True, order=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")
        object.__setattr__(self, "currency", check_currency(self.currency))

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def times(self, qty: int) -> Money:
        return Money(self.amount * qty, self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)
