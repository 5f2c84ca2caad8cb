"""Passwords, tokens, keys, principals and permissions: security primitives, no business rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from mercato.platform.errors import InvalidToken

# --------------------------------------------------------------------------- passwords

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults


def configure_password_hasher(**params: int) -> None:
    """Change argon2 parameters (used by tests to prove rehash-on-login)."""
    global _hasher
    _hasher = PasswordHasher(**params)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# A constant-time dummy verification so unknown accounts cost the same as wrong passwords.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


def burn_password_check(password: str) -> None:
    verify_password(_DUMMY_HASH, password)


@lru_cache
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(line.strip().lower() for line in path.read_text().splitlines() if line.strip())


def password_problems(password: str, min_length: int) -> list[str]:
    problems = []
    if len(password) < min_length:
        problems.append(f"must be at least {min_length} characters")
    if password.lower() in common_passwords():
        problems.append("is too common")
    if len(password) > 1024:
        problems.append("must be at most 1024 characters")
    return problems


# --------------------------------------------------------------------------- opaque tokens


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """Digest for high-entropy secrets stored at rest (refresh tokens, API keys, one-time tokens)."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _b32(u: uuid.UUID) -> str:
    return base64.b32encode(u.bytes).decode().rstrip("=").lower()


def _unb32(s: str) -> uuid.UUID:
    pad = "=" * (-len(s) % 8)
    return uuid.UUID(bytes=base64.b32decode(s.upper() + pad))


def scoped_token(prefix: str, tenant_id: uuid.UUID | None) -> str:
    """``<prefix>_<tenant b32 | 'platform'>_<secret>``: the tenant travels with the token,
    so it can be resolved (and RLS set) before the token row is looked up."""
    scope = _b32(tenant_id) if tenant_id else "platform"
    return f"{prefix}_{scope}_{new_token(24)}"


def parse_scoped_token(token: str, prefix: str) -> uuid.UUID | None:
    """Return the tenant id a scoped token names (None for platform scope); raise if malformed."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != prefix or not parts[2]:
        raise InvalidToken("malformed token")
    if parts[1] == "platform":
        return None
    try:
        return _unb32(parts[1])
    except Exception as exc:
        raise InvalidToken("malformed token") from exc


# API keys: ``mk_sk_…`` (secret, server-to-server) and ``mk_pk_…`` (publishable, storefront).
SECRET_KEY_PREFIX = "mksk"
PUBLISHABLE_KEY_PREFIX = "mkpk"
REFRESH_TOKEN_PREFIX = "mkrt"


def key_kind(token: str) -> str | None:
    head = token.split("_", 1)[0]
    return {SECRET_KEY_PREFIX: "secret", PUBLISHABLE_KEY_PREFIX: "publishable"}.get(head)


# --------------------------------------------------------------------------- JWT

JWT_ALGORITHM = "HS256"
JWT_ISSUER = "mercato"


def encode_jwt(claims: dict[str, Any], secret: str, ttl_seconds: int) -> str:
    now = int(time.time())
    payload = {"iss": JWT_ISSUER, "iat": now, "nbf": now, "exp": now + ttl_seconds, "jti": uuid.uuid4().hex, **claims}
    return jwt.encode(payload, secret, algorithm=JWT_ALGORITHM)


def decode_jwt(token: str, secret: str, *, typ: str = "access") -> dict[str, Any]:
    try:
        claims = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], issuer=JWT_ISSUER,
                            options={"require": ["exp", "iat", "sub", "typ"]})
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token expired", reason="expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("invalid token", reason="invalid") from exc
    if claims.get("typ") != typ:
        raise InvalidToken("wrong token type", reason="invalid")
    return claims


# --------------------------------------------------------------------------- roles and permissions


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MERCHANT = "merchant"
    SUPPORT = "support"
    CUSTOMER = "customer"


STAFF_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.MERCHANT, Role.SUPPORT})
MFA_REQUIRED_ROLES = frozenset({Role.OWNER, Role.ADMIN})


class Permission(StrEnum):
    # Identity
    PROFILE = "profile"  # own profile, own sessions, own MFA
    ADDRESSES = "addresses"  # own addresses
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"  # invite, change role, suspend/deactivate staff and customers
    API_KEYS = "api_keys:manage"
    AUDIT_READ = "audit:read"
    TENANT_SETTINGS = "tenant:settings"
    # Commerce (used by later modules)
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    INVENTORY_READ = "inventory:read"
    INVENTORY_WRITE = "inventory:write"
    CART = "cart"
    CHECKOUT = "checkout"
    ORDERS_OWN = "orders:own"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    FULFILLMENT_READ = "fulfillment:read"
    FULFILLMENT_WRITE = "fulfillment:write"  # shipments: create, pick, pack, label, ship
    SHIPMENTS_TRACK = "shipments:track"  # report tracking updates (carriers' integrations, staff)
    PAYMENTS_WRITE = "payments:write"
    RETURNS_READ = "returns:read"
    RETURNS_WRITE = "returns:write"  # approve, reject, receive, refund, exchange
    JOBS_READ = "jobs:read"
    WEBHOOKS = "webhooks:manage"
    NOTIFICATIONS_READ = "notifications:read"
    NOTIFICATIONS_SEND = "notifications:send"
    REALTIME_STAFF = "realtime:staff"  # subscribe to the tenant's staff rooms (orders, inventory)
    # Platform operators only
    PLATFORM_TENANTS = "platform:tenants"
    PLATFORM_BROADCAST = "platform:broadcast"


_STOREFRONT = {Permission.CATALOG_READ, Permission.CART, Permission.CHECKOUT}
_CUSTOMER = _STOREFRONT | {Permission.PROFILE, Permission.ADDRESSES, Permission.ORDERS_OWN}
_SUPPORT = _CUSTOMER | {Permission.USERS_READ, Permission.ORDERS_READ, Permission.INVENTORY_READ, Permission.JOBS_READ,
                        Permission.NOTIFICATIONS_READ, Permission.REALTIME_STAFF, Permission.RETURNS_READ,
                        Permission.FULFILLMENT_READ, Permission.SHIPMENTS_TRACK}
_MERCHANT = _SUPPORT | {Permission.CATALOG_WRITE, Permission.INVENTORY_WRITE, Permission.ORDERS_WRITE,
                        Permission.PAYMENTS_WRITE, Permission.NOTIFICATIONS_SEND, Permission.RETURNS_WRITE,
                        Permission.FULFILLMENT_WRITE}
_ADMIN = _MERCHANT | {Permission.USERS_WRITE, Permission.API_KEYS, Permission.AUDIT_READ, Permission.TENANT_SETTINGS,
                      Permission.WEBHOOKS}

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    Role.CUSTOMER: frozenset(_CUSTOMER),
    Role.SUPPORT: frozenset(_SUPPORT),
    Role.MERCHANT: frozenset(_MERCHANT),
    Role.ADMIN: frozenset(_ADMIN),
    Role.OWNER: frozenset(_ADMIN),
}
PUBLISHABLE_KEY_PERMISSIONS = frozenset(_STOREFRONT)
OPERATOR_PERMISSIONS = frozenset({Permission.PLATFORM_TENANTS, Permission.PLATFORM_BROADCAST})


def permissions_for_roles(roles: list[str] | tuple[str, ...]) -> frozenset[Permission]:
    out: set[Permission] = set()
    for r in roles:
        out |= ROLE_PERMISSIONS.get(r, frozenset())
    return frozenset(out)


@dataclass(frozen=True)
class Principal:
    """Who is calling. ``kind``: user | operator | secret_key | publishable_key | anonymous."""

    kind: str
    tenant_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    operator_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    roles: tuple[str, ...] = ()
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    session_family: uuid.UUID | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"

    @property
    def is_staff(self) -> bool:
        return self.kind == "secret_key" or any(r in STAFF_ROLES for r in self.roles)

    @property
    def actor_id(self) -> uuid.UUID | None:
        return self.user_id or self.operator_id or self.api_key_id

    def can(self, permission: Permission | str) -> bool:
        return permission in self.permissions


ANONYMOUS = Principal(kind="anonymous")
