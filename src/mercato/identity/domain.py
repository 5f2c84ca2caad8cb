"""Pure identity rules: the account state machine, role rules, address field normalisation.
No I/O here; unit-tested without a database."""

from __future__ import annotations

import secrets
from enum import StrEnum

import phonenumbers
import pycountry

from mercato.identity.errors import InvalidCountry, InvalidPhone, InvalidRole, OwnerProtected, SelfModification
from mercato.platform.errors import IllegalTransition
from mercato.platform.security import STAFF_ROLES, Role


class AccountStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"


TRANSITIONS: dict[str, frozenset[str]] = {
    AccountStatus.ACTIVE: frozenset({AccountStatus.SUSPENDED, AccountStatus.DEACTIVATED}),
    AccountStatus.SUSPENDED: frozenset({AccountStatus.ACTIVE, AccountStatus.DEACTIVATED}),
    AccountStatus.DEACTIVATED: frozenset(),  # terminal: the email stays taken, the history stays attributable
}


def allowed_transitions(current: str) -> frozenset[str]:
    return TRANSITIONS.get(current, frozenset())


def check_transition(current: str, target: str) -> str:
    """Return ``target`` if the account may move there, else raise 409 listing the allowed targets."""
    allowed = allowed_transitions(current)
    if target not in allowed:
        raise IllegalTransition(current, target, [str(a) for a in allowed])
    return target


#: Roles an invitation or a role change may grant. Ownership is created with the shop, not handed out here
#: (an owner may still make another staff member owner through a role change).
INVITABLE_ROLES = frozenset({Role.ADMIN, Role.MERCHANT, Role.SUPPORT})
SECRET_KEY_ROLES = frozenset({Role.ADMIN, Role.MERCHANT, Role.SUPPORT})


def check_staff_change(*, actor_user_id: object, actor_roles: tuple[str, ...], target_user_id: object,
                       target_role: str) -> None:
    """Who may change a staff member's role or status: never yourself; only an owner touches an owner."""
    if actor_user_id is not None and actor_user_id == target_user_id:
        raise SelfModification()
    if target_role == Role.OWNER and Role.OWNER not in actor_roles:
        raise OwnerProtected()


def check_role_change(*, actor_roles: tuple[str, ...], current_role: str, new_role: str) -> None:
    if current_role not in STAFF_ROLES:
        raise InvalidRole("customers cannot be given a staff role; invite the person instead", field="role")
    if new_role not in STAFF_ROLES:
        raise InvalidRole(f"{new_role!r} is not a staff role", field="role")
    if new_role == Role.OWNER and Role.OWNER not in actor_roles:
        raise OwnerProtected("only an owner can make someone an owner")


def normalize_country(code: str) -> str:
    code = code.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise InvalidCountry(f"{code!r} is not an ISO 3166-1 alpha-2 country code", field="country")
    return code


def normalize_phone(raw: str, *, region: str | None = None, field: str = "phone") -> str:
    """Parse a phone number (international, or national with a region hint) and return E.164."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(field=field) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o/1/l/i: read aloud and typed from paper


def new_recovery_codes(n: int = RECOVERY_CODE_COUNT) -> list[str]:
    """``xxxx-xxxx-xxxx-xxxx`` from a 31-letter alphabet: ~79 bits each, so a plain digest at rest is safe."""
    return ["-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(4)) for _ in range(4))
            for _ in range(n)]


def normalize_recovery_code(code: str) -> str:
    compact = "".join(ch for ch in code.lower() if ch.isalnum())
    return "-".join(compact[i:i + 4] for i in range(0, len(compact), 4))
