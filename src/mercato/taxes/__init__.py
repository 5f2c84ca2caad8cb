"""Taxes: rates per region and tax class, the tenant's tax settings (tax-inclusive prices), and
the :class:`TaxProvider` interface an external tax service can implement. Public face."""

from mercato.taxes.service import (
    DEFAULT_PROVIDER,
    TableTaxProvider,
    TaxProvider,
    TaxSettings,
    get_tax_settings,
    rates_for,
)

__all__ = ["DEFAULT_PROVIDER", "TableTaxProvider", "TaxProvider", "TaxSettings", "get_tax_settings", "rates_for"]
