"""Request and response models of the identity API (``extra="forbid"`` on every input)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

Password = Field(min_length=1, max_length=1024)
StaffRole = Literal["owner", "admin", "merchant", "support"]
AnyRole = Literal["owner", "admin", "merchant", "support", "customer"]
Status = Literal["active", "suspended", "deactivated"]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- auth


class RegisterIn(Input):
    email: EmailStr
    password: str = Password
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    locale: str | None = Field(default=None, max_length=10, pattern=r"^[a-z]{2}(?:[-_][A-Za-z]{2})?$")


class LoginIn(Input):
    email: str = Field(min_length=1, max_length=320)
    password: str = Password


class TokenIn(Input):
    token: str = Field(min_length=1, max_length=500)


class RefreshIn(Input):
    refresh_token: str = Field(min_length=1, max_length=500)


class LogoutIn(Input):
    refresh_token: str | None = Field(default=None, max_length=500)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class MfaChallenge(BaseModel):
    mfa_required: Literal[True] = True
    mfa_enrollment_required: bool = False
    challenge_token: str
    expires_in: int


class LoginOut(BaseModel):
    """Either a token pair or, for an MFA account, a challenge (``mfa_required: true``)."""

    access_token: str | None = None
    refresh_token: str | None = None
    token_type: Literal["bearer"] | None = None
    expires_in: int | None = None
    mfa_required: bool = False
    mfa_enrollment_required: bool | None = None
    challenge_token: str | None = None


class Introspection(BaseModel):
    active: bool
    reason: Literal["expired", "invalid", "revoked", "inactive"] | None = None
    kind: str | None = None
    subject: str | None = None
    tenant_id: uuid.UUID | None = None
    roles: list[str] = []
    permissions: list[str] = []
    exp: int | None = None


class Me(BaseModel):
    kind: str
    id: uuid.UUID | None
    tenant_id: uuid.UUID | None
    email: str | None = None
    roles: list[str]
    permissions: list[str]
    first_name: str | None = None
    last_name: str | None = None
    email_verified: bool | None = None
    mfa_enabled: bool | None = None


# --------------------------------------------------------------------------- passwords


class PasswordChangeIn(Input):
    current_password: str = Password
    new_password: str = Password


class ResetRequestIn(Input):
    email: EmailStr


class PasswordResetIn(Input):
    token: str = Field(min_length=1, max_length=500)
    password: str = Password


class AcceptInvitationIn(Input):
    token: str = Field(min_length=1, max_length=500)
    password: str = Password


# --------------------------------------------------------------------------- MFA


class MfaSetupIn(Input):
    challenge_token: str | None = Field(default=None, max_length=2000,
                                        description="Enrollment challenge from login (owner/admin not yet enrolled)")


class MfaSetup(BaseModel):
    secret: str
    otpauth_uri: str
    qr_png_base64: str


class MfaConfirmIn(Input):
    code: str = Field(min_length=6, max_length=8, pattern=r"^\d+$")
    challenge_token: str | None = Field(default=None, max_length=2000)


class MfaConfirmed(BaseModel):
    recovery_codes: list[str]
    tokens: TokenPair | None = Field(default=None, description="Present when enrolling through a login challenge")


class MfaVerifyIn(Input):
    challenge_token: str = Field(min_length=1, max_length=2000)
    code: str | None = Field(default=None, min_length=6, max_length=8, pattern=r"^\d+$")
    recovery_code: str | None = Field(default=None, min_length=8, max_length=40)


class MfaDisableIn(Input):
    password: str = Password
    code: str = Field(min_length=6, max_length=8, pattern=r"^\d+$")


# --------------------------------------------------------------------------- users


class User(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    role: AnyRole
    status: Status
    first_name: str | None
    last_name: str | None
    phone: str | None
    locale: str
    email_verified_at: datetime | None
    mfa_enabled: bool
    created_at: datetime
    last_login_at: datetime | None


class ProfileUpdate(Input):
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40, description="E.164, e.g. +14155550123")
    locale: str | None = Field(default=None, max_length=10, pattern=r"^[a-z]{2}(?:[-_][A-Za-z]{2})?$")


class UserInvite(Input):
    email: EmailStr
    role: StaffRole
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)


class RoleChange(Input):
    role: StaffRole


class UserList(BaseModel):
    items: list[User]
    has_more: bool
    next_cursor: str | None = None


# --------------------------------------------------------------------------- API keys


class ApiKeyCreate(Input):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["secret", "publishable"]
    role: StaffRole | None = Field(default=None, description="Secret keys only; not owner")


class ApiKey(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: Literal["secret", "publishable"]
    role: str | None
    display_prefix: str
    created_by: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey):
    token: str = Field(description="Shown once; store it now.")


class ApiKeyList(BaseModel):
    items: list[ApiKey]
    has_more: bool
    next_cursor: str | None = None


# --------------------------------------------------------------------------- addresses


class AddressFields(Input):
    company: str | None = Field(default=None, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    phone: str | None = Field(default=None, max_length=40)
    is_default: bool = False


class AddressCreate(AddressFields):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    line1: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    country: str = Field(min_length=2, max_length=2)


class AddressUpdate(Input):
    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    last_name: str | None = Field(default=None, min_length=1, max_length=100)
    company: str | None = Field(default=None, max_length=200)
    line1: str | None = Field(default=None, min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, min_length=1, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    phone: str | None = Field(default=None, max_length=40)
    is_default: bool | None = None


class Address(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    first_name: str
    last_name: str
    company: str | None
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str | None
    country: str
    phone: str | None
    is_default: bool
    created_at: datetime
    updated_at: datetime


class AddressList(BaseModel):
    items: list[Address]
