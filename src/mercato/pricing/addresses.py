"""Postal addresses for shipping and tax: one validation, every field error at once.

Country: ISO 3166-1 alpha-2 (pycountry). Postal code: the country's format for
US, CA, GB, DE, FR, JP, NL, AU (normalized to its canonical spelling), a permissive
pattern elsewhere, optional only where the country has no postal codes. Phone:
optional, stored as E.164 (phonenumbers). Region: for US, CA and AU the
subdivision code (``CA``, ``ON``, ``NSW``), validated; elsewhere free text.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import phonenumbers
import pycountry
from pydantic import BaseModel, ConfigDict, Field

from mercato.platform.errors import ValidationFailed


class AddressInvalid(ValidationFailed):
    """422 with ``errors: [{field, code, message}]`` naming every invalid field."""

    code, title = "address_invalid", "Invalid address"

    def __init__(self, errors: list[dict[str, str]], prefix: str = "") -> None:
        if prefix:
            errors = [{**e, "field": f"{prefix}.{e['field']}"} for e in errors]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        super().__init__(detail, errors=errors)


class AddressIn(BaseModel):
    """An address as submitted. Deliberately lenient: :func:`validate_address` reports
    every problem at once with stable codes instead of failing on the first."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    line1: str | None = Field(default=None, max_length=300)
    line2: str | None = Field(default=None, max_length=300)
    city: str | None = Field(default=None, max_length=200)
    region: str | None = Field(default=None, max_length=100, description="State/province (code for US, CA, AU)")
    postal_code: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, max_length=2, description="ISO 3166-1 alpha-2")
    phone: str | None = Field(default=None, max_length=40, description="Stored as E.164")


@dataclass(frozen=True)
class Address:
    """A validated, normalized address."""

    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    company: str | None = None
    line2: str | None = None
    region: str | None = None
    phone: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Address:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


REQUIRED = ("name", "line1", "city", "postal_code", "country")

#: Countries whose postal code we check strictly: (pattern on the upper-cased, trimmed input, normalizer).
_GB = (r"(GIR ?0AA|[A-PR-UWYZ](?:[0-9]{1,2}|[A-HK-Y][0-9]{1,2}|[0-9][A-HJKPSTUW]|[A-HK-Y][0-9][ABEHMNPRVWXY])"
       r" ?[0-9][ABD-HJLNP-UW-Z]{2})")
POSTAL_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "US": (re.compile(r"^\d{5}(-\d{4})?$"), "12345 or 12345-6789"),
    "CA": (re.compile(r"^[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d$"), "A1A 1A1"),
    "GB": (re.compile(rf"^{_GB}$"), "SW1A 1AA"),
    "DE": (re.compile(r"^\d{5}$"), "12345"),
    "FR": (re.compile(r"^\d{5}$"), "75001"),
    "JP": (re.compile(r"^\d{3}-?\d{4}$"), "100-0001"),
    "NL": (re.compile(r"^[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2}$"), "1234 AB"),
    "AU": (re.compile(r"^\d{4}$"), "2000"),
}
_PERMISSIVE_POSTAL = re.compile(r"^[A-Z0-9](?:[A-Z0-9 -]{0,10}[A-Z0-9])?$")
#: Countries without postal codes: the field is optional there.
NO_POSTAL_CODE = frozenset({"AE", "AG", "AO", "BS", "BZ", "HK", "JM", "QA", "TV", "UG", "ZW"})
#: Countries whose region must be a subdivision code (ISO 3166-2 suffix).
REGION_CODES = frozenset({"US", "CA", "AU"})


def normalize_postal_code(country: str, raw: str) -> str | None:
    """The canonical spelling of a postal code for ``country``, or None if it is malformed."""
    value = re.sub(r"\s+", " ", raw.strip().upper())
    fmt = POSTAL_FORMATS.get(country)
    if fmt is None:
        return value if _PERMISSIVE_POSTAL.match(value) else None
    if not fmt[0].match(value):
        return None
    compact = value.replace(" ", "")
    if country in ("CA", "GB"):
        return f"{compact[:-3]} {compact[-3:]}"
    if country == "NL":
        return f"{compact[:4]} {compact[4:]}"
    if country == "JP":
        digits = compact.replace("-", "")
        return f"{digits[:3]}-{digits[3:]}"
    return value


def _err(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def address_errors(data: AddressIn | dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Every problem of an address, plus the normalized values of the fields that passed."""
    raw = data.model_dump() if isinstance(data, AddressIn) else dict(data)
    values: dict[str, Any] = {k: (v.strip() if isinstance(v, str) else v) or None for k, v in raw.items()}
    errors: list[dict[str, str]] = []
    country = (values.get("country") or "").upper()
    if country:
        if len(country) != 2 or pycountry.countries.get(alpha_2=country) is None:
            errors.append(_err("country", "invalid_country", f"{values['country']!r} is not an ISO 3166-1 alpha-2 code"))
            country = ""
        values["country"] = country or values.get("country")
    for name in REQUIRED:
        if not values.get(name) and not (name == "postal_code" and country in NO_POSTAL_CODE):
            if not (name == "country" and any(e["field"] == "country" for e in errors)):
                errors.append(_err(name, "required", f"{name} is required"))
    postal = values.get("postal_code")
    if postal and country:
        normalized = normalize_postal_code(country, postal)
        if normalized is None:
            example = POSTAL_FORMATS.get(country, (None, "letters, digits, spaces and dashes"))[1]
            errors.append(_err("postal_code", "invalid_postal_code",
                               f"{postal!r} is not a valid postal code for {country} (e.g. {example})"))
        else:
            values["postal_code"] = normalized
    region = values.get("region")
    if region and country in REGION_CODES:
        code = region.upper().removeprefix(f"{country}-")
        if pycountry.subdivisions.get(code=f"{country}-{code}") is None:
            errors.append(_err("region", "invalid_region", f"{region!r} is not a subdivision code of {country}"))
        else:
            values["region"] = code
    phone = values.get("phone")
    if phone:
        try:
            number = phonenumbers.parse(phone, country or None)
            if not phonenumbers.is_valid_number(number):
                raise ValueError
            values["phone"] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except (phonenumbers.NumberParseException, ValueError):
            errors.append(_err("phone", "invalid_phone", "phone must be a valid number (E.164, e.g. +14155550123)"))
    return errors, values


def validate_address(data: AddressIn | dict[str, Any], *, prefix: str = "") -> Address:
    """Validate and normalize, or raise :class:`AddressInvalid` listing every field error."""
    errors, values = address_errors(data)
    if errors:
        raise AddressInvalid(errors, prefix=prefix)
    if not values.get("postal_code"):
        values["postal_code"] = ""
    return Address.from_dict(values)


__all__ = ["Address", "AddressIn", "AddressInvalid", "normalize_postal_code", "validate_address"]
