"""Identity's domain errors: each carries its HTTP status and a stable ``code``."""

from __future__ import annotations

from mercato.platform.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NotFound,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)


class InvalidCredentials(Unauthorized):
    code, title = "invalid_credentials", "Email or password is wrong"


class RefreshTokenReused(InvalidToken):
    code, title = "refresh_token_reused", "Refresh token was already used; the session has been revoked"


class InvalidChallenge(InvalidToken):
    code, title = "invalid_challenge", "MFA challenge is invalid or expired"


class InvalidMfaCode(Unauthorized):
    code, title = "invalid_mfa_code", "The MFA code is wrong"


class InvalidOneTimeToken(BadRequest):
    code, title = "invalid_token", "The token is invalid, expired or already used"


class LoginThrottled(TooManyRequests):
    code, title = "login_throttled", "Too many failed attempts; try again later"


class EmailTaken(AlreadyExists):
    code, title = "email_taken", "An account with this email already exists"


class WeakPassword(ValidationFailed):
    code, title = "weak_password", "Password is too weak"


class InvalidCurrentPassword(ValidationFailed):
    code, title = "invalid_current_password", "The current password is wrong"


class InvalidCountry(ValidationFailed):
    code, title = "invalid_country", "Unknown ISO 3166-1 alpha-2 country code"


class InvalidPhone(ValidationFailed):
    code, title = "invalid_phone", "Not a valid phone number (use E.164, e.g. +14155550123)"


class InvalidRole(ValidationFailed):
    code, title = "invalid_role", "This role cannot be used here"


class TenantRequired(BadRequest):
    code, title = "tenant_required", "This request needs a shop (X-Mercato-Tenant, Host or API key)"


class UserOnly(Forbidden):
    code, title = "user_account_required", "Only a signed-in user account can do this"


class OwnerProtected(Forbidden):
    code, title = "owner_protected", "Only an owner can change another owner"


class SelfModification(Forbidden):
    code, title = "self_modification", "You cannot change your own role or status"


class MfaAlreadyEnabled(Conflict):
    code, title = "mfa_already_enabled", "MFA is already enabled"


class MfaNotSetUp(Conflict):
    code, title = "mfa_not_set_up", "Call /auth/mfa/setup first"


class MfaNotEnabled(Conflict):
    code, title = "mfa_not_enabled", "MFA is not enabled"


class MfaMandatory(Conflict):
    code, title = "mfa_mandatory", "MFA is mandatory for this role and cannot be disabled"


class UserNotFound(NotFound):
    code, title = "user_not_found", "User not found"


class ApiKeyNotFound(NotFound):
    code, title = "api_key_not_found", "API key not found"


class AddressNotFound(NotFound):
    code, title = "address_not_found", "Address not found"


class AccountInactive(Forbidden):
    code, title = "account_inactive", "This account is not active"
