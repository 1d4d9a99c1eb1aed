"""`/auth`: login, refresh-token rotation, logout, optional sign-up, the current user and
their password."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from podium.api.account_schemas import PasswordChange
from podium.api.deps import CurrentPrincipal, ServicesDep
from podium.api.schemas import (
    LoginRequest,
    RefreshRequest,
    SignupRequest,
    TokenResponse,
    UserPublic,
)
from podium.auth.service import normalize_identifier
from podium.errors import Forbidden

router = APIRouter(prefix="/auth", tags=["auth"])


def client_address(request: Request) -> str | None:
    # Behind a reverse proxy this is the proxy's address unless uvicorn trusts its
    # X-Forwarded-For (FORWARDED_ALLOW_IPS); see docs/security.md#login.
    return request.client.host if request.client else None


@router.post("/login")
async def login(body: LoginRequest, request: Request, services: ServicesDep) -> TokenResponse:
    """An access token (15 minutes) and a refresh token (7 days) for an email or username.
    Attempts are limited per identifier and per client address (429 with Retry-After)."""
    identifier = normalize_identifier(body.identifier)
    await services.login_limiter.hit(identifier, client_address(request))
    return TokenResponse.of(await services.auth.login(identifier, body.password))


@router.post("/refresh")
async def refresh(body: RefreshRequest, services: ServicesDep) -> TokenResponse:
    """Spend a refresh token for a new pair; a token used twice revokes its whole family."""
    return TokenResponse.of(await services.auth.refresh(body.refresh_token))


@router.post("/logout", status_code=204)
async def logout(body: RefreshRequest, services: ServicesDep) -> Response:
    """Revoke the refresh token's family (every token of that login, the access tokens too,
    and the WebSockets and SSE streams they opened)."""
    await services.auth.logout(body.refresh_token)
    return Response(status_code=204)


@router.post("/signup", status_code=201)
async def signup(body: SignupRequest, request: Request, services: ServicesDep) -> TokenResponse:
    """Create an account and log in (only when `PODIUM_ALLOW_SIGNUP=true`)."""
    if not services.settings.allow_signup:
        raise Forbidden("sign-up is closed on this server; ask an administrator for an account")
    await services.limiter.hit("signup")
    await services.login_limiter.hit(None, client_address(request))
    await services.auth.create_user(body.email, body.username, body.password)
    return TokenResponse.of(await services.auth.login(body.username, body.password))


@router.get("/me")
async def me(principal: CurrentPrincipal, services: ServicesDep) -> UserPublic:
    """The user of the access token."""
    if principal.user_id is None:
        raise Forbidden("an API key has no user; /auth/me needs an access token")
    return UserPublic.of(await services.auth.get_user(principal.user_id))


@router.post("/password", status_code=204)
async def change_password(
    body: PasswordChange, principal: CurrentPrincipal, services: ServicesDep
) -> Response:
    """Change the caller's password (the current one is checked; a common one is refused).
    Every login of the user is revoked: log in again with the new password."""
    if principal.user_id is None:
        raise Forbidden("an API key has no password; /auth/password needs an access token")
    await services.auth.change_password(principal.user_id, body.current_password, body.new_password)
    return Response(status_code=204)
