"""Tax use cases: rates CRUD, tenant tax settings, and the table-based :class:`TaxProvider`."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, cast, runtime_checkable

import pycountry
from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.platform.db import current_tenant
from mercato.platform.errors import ValidationFailed
from mercato.pricing import Address
from mercato.taxes import repository
from mercato.taxes.domain import compact_postal, normalize_region, rates_by_class
from mercato.taxes.errors import TaxRateExists, TaxRateNotFound
from mercato.taxes.models import TaxRate
from mercato.taxes.schemas import TaxRateCreate, TaxRateUpdate, TaxSettingsIn


@dataclass(frozen=True)
class TaxSettings:
    prices_include_tax: bool = False
    shipping_tax_class: str | None = None


@runtime_checkable
class TaxProvider(Protocol):
    """Tax rates (percent per tax class) for a destination. The built-in implementation reads the
    ``tax_rates`` table; an external tax service plugs in by implementing this one method and being
    set as ``app.state.tax_provider``."""

    async def rates_for(self, session: AsyncSession, address: Address,
                        tax_classes: Collection[str]) -> dict[str, Decimal]: ...


class TableTaxProvider:
    """Rates from the tenant's ``tax_rates`` table (most specific match per class)."""

    async def rates_for(self, session: AsyncSession, address: Address,
                        tax_classes: Collection[str]) -> dict[str, Decimal]:
        if not tax_classes:
            return {}
        rows = await repository.rates_for_country(session, address.country.upper(), tax_classes)
        return rates_by_class(rows, country=address.country, region=address.region, postal_code=address.postal_code,
                              tax_classes=tax_classes)


DEFAULT_PROVIDER = TableTaxProvider()


async def rates_for(session: AsyncSession, address: Address, tax_classes: Collection[str],
                    provider: TaxProvider | None = None) -> dict[str, Decimal]:
    return await (provider or DEFAULT_PROVIDER).rates_for(session, address, tax_classes)


# --------------------------------------------------------------------------- settings


_SETTINGS_KEY = "mercato.taxes.settings"


async def get_tax_settings(session: AsyncSession) -> TaxSettings:
    """The shop's tax settings, read once per transaction (a request prices a cart more than once:
    the change, then the answer); cached in the session for the tenant it is bound to."""
    tenant = current_tenant(session)
    cached = session.info.get(_SETTINGS_KEY)
    if cached is not None and cached[0] == tenant:
        return cast(TaxSettings, cached[1])
    row = await repository.get_settings(session)
    settings = TaxSettings(row.prices_include_tax, row.shipping_tax_class) if row else TaxSettings()
    session.info[_SETTINGS_KEY] = (tenant, settings)
    return settings


async def put_tax_settings(session: AsyncSession, data: TaxSettingsIn) -> TaxSettings:
    before = await get_tax_settings(session)
    row = await repository.upsert_settings(session, current_tenant(session), data.model_dump())  # type: ignore[arg-type]
    after = TaxSettings(row.prices_include_tax, row.shipping_tax_class)
    session.info[_SETTINGS_KEY] = (current_tenant(session), after)
    await audit.record(session, action="tax_settings.updated", resource_type="tax_settings",
                       changes=audit.diff(before.__dict__, after.__dict__))
    return after


# --------------------------------------------------------------------------- rates CRUD


def _normalize(values: dict[str, object]) -> dict[str, object]:
    if values.get("country") is not None:
        country = str(values["country"]).upper()
        if pycountry.countries.get(alpha_2=country) is None:
            raise ValidationFailed(f"{values['country']!r} is not an ISO 3166-1 alpha-2 code", field="country")
        values["country"] = country
    country = str(values.get("country") or "")
    if values.get("region") is not None:
        values["region"] = normalize_region(country, str(values["region"]))
    if values.get("postal_prefix") is not None:
        values["postal_prefix"] = compact_postal(str(values["postal_prefix"]))
    if values.get("tax_class") is not None:
        values["tax_class"] = str(values["tax_class"]).strip().lower()
    return values


async def create_rate(session: AsyncSession, data: TaxRateCreate) -> TaxRate:
    values = _normalize(data.model_dump())
    rate = await repository.insert_rate(session, {**values, "tenant_id": current_tenant(session)})
    if rate is None:
        raise TaxRateExists()
    await audit.record(session, action="tax_rate.created", resource_type="tax_rate", resource_id=rate.id,
                       changes={k: {"from": None, "to": str(v)} for k, v in values.items()})
    return rate


async def get_rate(session: AsyncSession, rate_id: uuid.UUID) -> TaxRate:
    rate = await repository.get_rate(session, rate_id)
    if rate is None:
        raise TaxRateNotFound()
    return rate


async def list_rates(session: AsyncSession, *, limit: int, offset: int, country: str | None = None,
                     tax_class: str | None = None) -> list[TaxRate]:
    return await repository.list_rates(session, limit=limit, offset=offset,
                                       country=country.upper() if country else None, tax_class=tax_class)


async def update_rate(session: AsyncSession, rate_id: uuid.UUID, data: TaxRateUpdate) -> TaxRate:
    rate = await get_rate(session, rate_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if "region" in changes or "postal_prefix" in changes:
        changes.setdefault("country", rate.country)
    changes = _normalize(changes)
    before = {k: str(getattr(rate, k)) for k in changes}
    for k, v in changes.items():
        setattr(rate, k, v)
    with session.no_autoflush:  # check before the UPDATE hits the unique constraint
        if await repository.scope_taken(session, rate):
            raise TaxRateExists()
    await session.flush()
    await session.refresh(rate)
    await audit.record(session, action="tax_rate.updated", resource_type="tax_rate", resource_id=rate.id,
                       changes=audit.diff(before, {k: str(v) for k, v in changes.items()}))
    return rate


async def delete_rate(session: AsyncSession, rate_id: uuid.UUID) -> None:
    rate = await get_rate(session, rate_id)
    await repository.delete_rate(session, rate)
    await audit.record(session, action="tax_rate.deleted", resource_type="tax_rate", resource_id=rate_id)
