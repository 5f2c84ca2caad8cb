"""Sign-up, login, tokens, MFA and passwords (``/auth/...``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response, status

import mercato.identity.service.mfa as mfa
from mercato.identity.auth import PublicIntrospection, bind_tenant, client_ip
from mercato.identity.errors import TenantRequired
from mercato.identity.schemas import (
    AcceptInvitationIn,
    Introspection,
    LoginIn,
    LoginOut,
    LogoutIn,
    Me,
    MfaConfirmed,
    MfaConfirmIn,
    MfaDisableIn,
    MfaSetup,
    MfaSetupIn,
    MfaVerifyIn,
    PasswordChangeIn,
    PasswordResetIn,
    RefreshIn,
    RegisterIn,
    ResetRequestIn,
    TokenIn,
    TokenPair,
    User,
)
from mercato.identity.service import accounts, sessions
from mercato.identity.service.common import one_time_token_tenant
from mercato.platform.auth import Authenticated, Public, require
from mercato.platform.db import SessionDep
from mercato.platform.errors import InvalidToken, ValidationFailed, problem_schema_responses
from mercato.platform.security import Permission, Principal

router = APIRouter(prefix="/auth", tags=["auth"])
Profile = Annotated[Principal, require(Permission.PROFILE)]


def _tenant(principal: Principal) -> uuid.UUID:
    if principal.tenant_id is None:
        raise TenantRequired()
    return principal.tenant_id


def _ua(request: Request) -> str | None:
    return request.headers.get("user-agent")


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=User, summary="Customer sign-up",
             responses=problem_schema_responses(400, 409, 422))
async def register(data: RegisterIn, session: SessionDep, principal: Public) -> User:
    user = await accounts.register(session, tenant_id=_tenant(principal), email=str(data.email),
                                   password=data.password, first_name=data.first_name, last_name=data.last_name,
                                   locale=data.locale)
    return User.model_validate(user)


@router.post("/verify-email", response_model=User, summary="Confirm an email address with the mailed token",
             responses=problem_schema_responses(400, 403))
async def verify_email(data: TokenIn, request: Request, session: SessionDep, _: Public) -> User:
    await bind_tenant(request, session, one_time_token_tenant(data.token, "email_verification"))
    return User.model_validate(await accounts.verify_email(session, data.token))


@router.post("/login", response_model=LoginOut, response_model_exclude_none=True,
             summary="Log in (a shop's user, or a platform operator when no shop is named)",
             description="Returns a token pair, or `{mfa_required: true, challenge_token}` for accounts with MFA "
                         "(exchange it at `/auth/mfa/verify`; with `mfa_enrollment_required: true` enrol first "
                         "through `/auth/mfa/setup` + `/auth/mfa/confirm`).",
             responses=problem_schema_responses(401, 403, 429))
async def login(data: LoginIn, request: Request, session: SessionDep, principal: Public) -> LoginOut:
    result = await sessions.login(session, request.app.state.limiter, tenant_id=principal.tenant_id,
                                  email=str(data.email), password=data.password, ip=client_ip(request),
                                  user_agent=_ua(request))
    if result.tokens is not None:
        return LoginOut(**result.tokens.model_dump())
    assert result.challenge is not None
    return LoginOut(mfa_required=True, mfa_enrollment_required=result.challenge.mfa_enrollment_required,
                    challenge_token=result.challenge.challenge_token, expires_in=result.challenge.expires_in)


@router.post("/refresh", response_model=TokenPair, summary="Rotate a refresh token",
             description="Each refresh token works once. Presenting a spent one revokes the whole session.",
             responses=problem_schema_responses(401, 403))
async def refresh(data: RefreshIn, request: Request, session: SessionDep, _: Public) -> TokenPair:
    tenant_id = sessions.refresh_token_tenant(data.refresh_token)
    if tenant_id is not None:
        await bind_tenant(request, session, tenant_id)
    return await sessions.refresh(session, request.app.state.db, data.refresh_token, user_agent=_ua(request),
                                  ip=client_ip(request))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End this session (its refresh tokens)",
             responses=problem_schema_responses(401, 403))
async def logout(session: SessionDep, principal: Authenticated, data: LogoutIn | None = None) -> Response:
    await sessions.logout(session, principal, data.refresh_token if data else None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=Me, summary="Who am I", responses=problem_schema_responses(401, 403))
async def me(session: SessionDep, principal: Authenticated) -> Me:
    base = {"kind": principal.kind, "tenant_id": principal.tenant_id, "roles": list(principal.roles),
            "permissions": sorted(principal.permissions)}
    if principal.kind == "user":
        user = await accounts.get_me(session, principal)
        return Me(id=user.id, email=user.email, first_name=user.first_name, last_name=user.last_name,
                  email_verified=user.email_verified_at is not None, mfa_enabled=user.mfa_enabled, **base)
    if principal.kind == "operator":
        op = await mfa.principal_account(session, principal)
        return Me(id=op.id, email=op.email, mfa_enabled=op.mfa_enabled, **base)
    return Me(id=principal.actor_id, **base)


@router.get("/verify", response_model=Introspection, dependencies=[PublicIntrospection],
            summary="Introspect a token (for other services)", responses=problem_schema_responses(429),
            description="Send the token to check as `Authorization: Bearer <token>`. Always 200; "
                        "`active: false` with a `reason` for expired, invalid, revoked or inactive credentials.")
async def verify(request: Request, session: SessionDep) -> Introspection:
    header = request.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    return await sessions.introspect(session, token or None, request.app.state.resolve_principal.tenant_by_id)


# --------------------------------------------------------------------------- passwords


@router.post("/password/change", status_code=status.HTTP_204_NO_CONTENT, summary="Change my password",
             description="Ends every other session of the account.", responses=problem_schema_responses(401, 403, 422))
async def change_password(data: PasswordChangeIn, session: SessionDep, principal: Profile) -> Response:
    await accounts.change_password(session, principal, data.current_password, data.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/password/reset-request", status_code=status.HTTP_202_ACCEPTED,
             summary="Mail a password reset link (always 202: accounts are never revealed)",
             responses=problem_schema_responses(400))
async def reset_request(data: ResetRequestIn, session: SessionDep, principal: Public) -> Response:
    _tenant(principal)
    await accounts.request_password_reset(session, str(data.email))
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post("/password/reset", status_code=status.HTTP_204_NO_CONTENT, summary="Set a new password with a reset token",
             description="The token works once, for 1 hour; every session of the account ends.",
             responses=problem_schema_responses(400, 403, 422))
async def reset_password(data: PasswordResetIn, request: Request, session: SessionDep, _: Public) -> Response:
    await bind_tenant(request, session, one_time_token_tenant(data.token, "password_reset"))
    await accounts.reset_password(session, data.token, data.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/accept-invitation", response_model=User, summary="Accept a staff invitation and set a password",
             responses=problem_schema_responses(400, 403, 422))
async def accept_invitation(data: AcceptInvitationIn, request: Request, session: SessionDep, _: Public) -> User:
    await bind_tenant(request, session, one_time_token_tenant(data.token, "invitation"))
    return User.model_validate(await accounts.accept_invitation(session, data.token, data.password))


# --------------------------------------------------------------------------- MFA


async def _enrolling_account(request: Request, session: SessionDep, principal: Principal,
                             challenge_token: str | None) -> tuple[sessions.Account, bool]:
    """The account enrolling: from an enrolment challenge (owner/admin at first login) or the signed-in caller."""
    if challenge_token:
        challenge = mfa.read_challenge(challenge_token)
        if challenge.tenant_id is not None:
            await bind_tenant(request, session, challenge.tenant_id)
        return await mfa.challenge_account(session, challenge, "enroll"), True
    if not principal.is_authenticated:
        raise InvalidToken("sign in, or pass the challenge_token from login")
    return await mfa.principal_account(session, principal), False


@router.post("/mfa/setup", response_model=MfaSetup, summary="Start TOTP enrolment (secret, otpauth URI, QR code)",
             description="Signed in, or with the enrolment `challenge_token` login returned.",
             responses=problem_schema_responses(401, 403, 409))
async def mfa_setup(request: Request, session: SessionDep, principal: Public, data: MfaSetupIn | None = None
                    ) -> MfaSetup:
    account, _ = await _enrolling_account(request, session, principal, data.challenge_token if data else None)
    return await mfa.setup(session, account)


@router.post("/mfa/confirm", response_model=MfaConfirmed, summary="Confirm TOTP enrolment with a code",
             description="Returns 10 single-use recovery codes (shown once). Through an enrolment challenge it "
                         "also returns the session tokens.",
             responses=problem_schema_responses(401, 403, 409))
async def mfa_confirm(data: MfaConfirmIn, request: Request, session: SessionDep, principal: Public) -> MfaConfirmed:
    account, via_challenge = await _enrolling_account(request, session, principal, data.challenge_token)
    return await mfa.confirm(session, account, data.code, issue_session=via_challenge, user_agent=_ua(request),
                             ip=client_ip(request))


@router.post("/mfa/verify", response_model=TokenPair, summary="Second login step: TOTP or recovery code",
             responses=problem_schema_responses(401, 403, 429))
async def mfa_verify(data: MfaVerifyIn, request: Request, session: SessionDep, _: Public) -> TokenPair:
    if (data.code is None) == (data.recovery_code is None):
        raise ValidationFailed("send exactly one of code or recovery_code", field="code")
    challenge = mfa.read_challenge(data.challenge_token)
    if challenge.tenant_id is not None:
        await bind_tenant(request, session, challenge.tenant_id)
    account = await mfa.challenge_account(session, challenge, "verify")
    return await mfa.verify(session, request.app.state.limiter, account, code=data.code,
                            recovery_code=data.recovery_code, ip=client_ip(request), user_agent=_ua(request))


@router.post("/mfa/disable", status_code=status.HTTP_204_NO_CONTENT, summary="Turn MFA off (not for owner/admin)",
             responses=problem_schema_responses(401, 403, 409, 422))
async def mfa_disable(data: MfaDisableIn, session: SessionDep, principal: Authenticated) -> Response:
    account = await mfa.principal_account(session, principal)
    await mfa.disable(session, account, password=data.password, code=data.code)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
