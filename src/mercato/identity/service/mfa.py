"""TOTP MFA: enrolment (setup → confirm), recovery codes, the login second step, disabling.

Owners and admins must use MFA. One who has not enrolled yet gets, at login, a challenge with
``purpose: enroll``: it may only call ``/auth/mfa/setup`` and ``/auth/mfa/confirm``; the confirmation
then returns the recovery codes *and* the session tokens. Everyone else enrols while signed in.
"""

from __future__ import annotations

import base64
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
import segno
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.identity import repository
from mercato.identity.domain import new_recovery_codes, normalize_recovery_code
from mercato.identity.errors import (
    InvalidChallenge,
    InvalidCurrentPassword,
    InvalidMfaCode,
    MfaAlreadyEnabled,
    MfaMandatory,
    MfaNotEnabled,
    MfaNotSetUp,
    UserOnly,
)
from mercato.identity.models import User
from mercato.identity.schemas import MfaConfirmed, MfaSetup, TokenPair
from mercato.identity.service import throttle
from mercato.identity.service.common import now, user_event
from mercato.identity.service.sessions import Account, ensure_active, issue_tokens
from mercato.platform.errors import InvalidToken
from mercato.platform.ratelimit import Limiter
from mercato.platform.security import MFA_REQUIRED_ROLES, Principal, decode_jwt, token_digest, verify_password
from mercato.settings import get_settings

ISSUER = "Mercato"


@dataclass(frozen=True)
class Challenge:
    subject: uuid.UUID
    tenant_id: uuid.UUID | None
    purpose: str  # verify | enroll


def read_challenge(token: str) -> Challenge:
    try:
        claims = decode_jwt(token, get_settings().secret_key.get_secret_value(), typ="mfa")
        tenant = uuid.UUID(claims["tid"]) if claims.get("kind") == "user" else None
        return Challenge(uuid.UUID(claims["sub"]), tenant, claims["purpose"])
    except (InvalidToken, KeyError, ValueError) as exc:
        raise InvalidChallenge() from exc


async def challenge_account(session: AsyncSession, challenge: Challenge, purpose: str) -> Account:
    """Load the account a challenge names (the caller has bound the challenge's tenant)."""
    if challenge.purpose != purpose:
        raise InvalidChallenge(f"this challenge is for MFA {challenge.purpose}, not {purpose}")
    account: Account | None
    if challenge.tenant_id is not None:
        account = await repository.get_user(session, challenge.subject, for_update=True)
    else:
        account = await repository.get_operator(session, challenge.subject, for_update=True)
    if account is None:
        raise InvalidChallenge()
    ensure_active(account)
    return account


async def principal_account(session: AsyncSession, principal: Principal) -> Account:
    account: Account | None = None
    if principal.kind == "user" and principal.user_id:
        account = await repository.get_user(session, principal.user_id, for_update=True)
    elif principal.kind == "operator" and principal.operator_id:
        account = await repository.get_operator(session, principal.operator_id, for_update=True)
    if account is None:
        raise UserOnly()
    return account


def _qr_png_base64(uri: str) -> str:
    buf = io.BytesIO()
    segno.make(uri, error="m").save(buf, kind="png", scale=5, border=2)
    return base64.b64encode(buf.getvalue()).decode()


async def setup(session: AsyncSession, account: Account) -> MfaSetup:
    """Start (or restart) enrolment: a fresh secret, not active until confirmed with a code."""
    if account.mfa_enabled:
        raise MfaAlreadyEnabled()
    secret = pyotp.random_base32()
    account.mfa_secret = secret
    account.mfa_last_step = None
    await session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=account.email, issuer_name=ISSUER)
    return MfaSetup(secret=secret, otpauth_uri=uri, qr_png_base64=_qr_png_base64(uri))


def check_totp(account: Account, code: str) -> bool:
    """Accept the current code or one step either side, each step at most once."""
    if not account.mfa_secret:
        return False
    totp = pyotp.TOTP(account.mfa_secret)
    current = totp.timecode(datetime.now(UTC))
    for step in (current, current - 1, current + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            if account.mfa_last_step is not None and step <= account.mfa_last_step:
                return False  # replay of an already-used code
            account.mfa_last_step = step
            return True
    return False


async def confirm(session: AsyncSession, account: Account, code: str, *, issue_session: bool = False,
                  user_agent: str | None = None, ip: str | None = None) -> MfaConfirmed:
    if account.mfa_enabled:
        raise MfaAlreadyEnabled()
    if not account.mfa_secret:
        raise MfaNotSetUp()
    if not check_totp(account, code):
        raise InvalidMfaCode(field="code")
    account.mfa_enabled = True
    codes = new_recovery_codes()
    await repository.replace_recovery_codes(session, account, [token_digest(c) for c in codes])
    await session.flush()
    if isinstance(account, User):
        await user_event(session, "user.mfa_enabled", account, changes={"mfa_enabled": {"from": False, "to": True}},
                         actor=Principal(kind="user", tenant_id=account.tenant_id, user_id=account.id))
    tokens: TokenPair | None = None
    if issue_session:
        tokens = await issue_tokens(session, account, user_agent=user_agent, ip=ip)
    return MfaConfirmed(recovery_codes=codes, tokens=tokens)


async def verify(session: AsyncSession, limiter: Limiter, account: Account, *, code: str | None,
                 recovery_code: str | None, ip: str | None, user_agent: str | None) -> TokenPair:
    """The login's second step. Failures count towards the same throttle as passwords."""
    if not account.mfa_enabled:
        raise InvalidChallenge()
    scope, key = "mfa", str(account.id)
    await throttle.check(limiter, scope, key, ip)
    ok = False
    used_recovery = False
    if code:
        ok = check_totp(account, code)
    elif recovery_code:
        ok = await repository.use_recovery_code(session, account, token_digest(normalize_recovery_code(recovery_code)))
        used_recovery = ok
    if not ok:
        await throttle.failed(limiter, scope, key, ip)
        raise InvalidMfaCode()
    await throttle.succeeded(limiter, scope, key)
    account.last_login_at = now()
    await session.flush()
    if used_recovery and isinstance(account, User):
        await user_event(session, "user.mfa_recovery_code_used", account,
                         actor=Principal(kind="user", tenant_id=account.tenant_id, user_id=account.id),
                         data={"remaining": await repository.unused_recovery_codes(session, account)})
    return await issue_tokens(session, account, user_agent=user_agent, ip=ip)


async def disable(session: AsyncSession, account: Account, *, password: str, code: str) -> None:
    if not account.mfa_enabled:
        raise MfaNotEnabled()
    if isinstance(account, User) and account.role in MFA_REQUIRED_ROLES:
        raise MfaMandatory()
    if not account.password_hash or not verify_password(account.password_hash, password):
        raise InvalidCurrentPassword(field="password")
    if not check_totp(account, code):
        raise InvalidMfaCode(field="code")
    account.mfa_enabled = False
    account.mfa_secret = None
    account.mfa_last_step = None
    await repository.delete_recovery_codes(session, account)
    await session.flush()
    if isinstance(account, User):
        await user_event(session, "user.mfa_disabled", account, changes={"mfa_enabled": {"from": True, "to": False}})

