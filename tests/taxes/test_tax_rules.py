"""Most specific tax rate wins: postal prefix > region > country."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from mercato.taxes.domain import best_rate, rates_by_class


@dataclass
class R:
    country: str
    rate: Decimal
    region: str = ""
    postal_prefix: str = ""
    tax_class: str = "standard"


RATES = [
    R("US", Decimal("0")),
    R("US", Decimal("7.25"), region="CA"),
    R("US", Decimal("8.625"), region="CA", postal_prefix="94"),
    R("US", Decimal("9.5"), region="CA", postal_prefix="9410"),
    R("US", Decimal("4"), postal_prefix="1"),  # prefix without region
    R("US", Decimal("1"), region="CA", tax_class="reduced"),
    R("DE", Decimal("19")),
    R("DE", Decimal("7"), tax_class="reduced"),
]


def rate(country: str, region: str | None, postal: str | None, tax_class: str = "standard") -> Decimal | None:
    best = best_rate(RATES, country=country, region=region, postal_code=postal, tax_class=tax_class)
    return best.rate if best else None


def test_specificity() -> None:
    assert rate("US", "NY", "10001") == Decimal("4")  # postal prefix beats country
    assert rate("US", "NY", "20001") == Decimal("0")
    assert rate("US", "CA", "90001") == Decimal("7.25")  # region beats country
    assert rate("US", "CA", "94301") == Decimal("8.625")  # postal beats region
    assert rate("US", "CA", "94105") == Decimal("9.5")  # longer prefix wins
    assert rate("US", "US-CA", "94105") == Decimal("9.5")  # ISO 3166-2 spelling of the region
    assert rate("us", "ca", "94105") == Decimal("9.5")
    assert rate("US", "CA", "94105", "reduced") == Decimal("1")
    assert rate("FR", None, "75001") is None
    assert rates_by_class(RATES, country="DE", region=None, postal_code="10115",
                          tax_classes=["standard", "reduced", "books"]) == {"standard": Decimal(19), "reduced": Decimal(7)}


@given(st.text(alphabet="0123456789", min_size=5, max_size=5), st.sampled_from(["CA", "NY", "", None]))
def test_the_chosen_rate_always_matches_and_nothing_more_specific_does(postal: str, region: str | None) -> None:
    best = best_rate(RATES, country="US", region=region, postal_code=postal, tax_class="standard")
    assert best is not None  # the country-wide row always matches
    assert best.region in ("", region or "")
    assert postal.startswith(best.postal_prefix)
    for r in RATES:
        if r.tax_class == "standard" and r.country == "US" and r.region in ("", region or "") \
                and postal.startswith(r.postal_prefix):
            assert (len(r.postal_prefix) > 0, len(r.postal_prefix), r.region != "") <= \
                   (len(best.postal_prefix) > 0, len(best.postal_prefix), best.region != "")
