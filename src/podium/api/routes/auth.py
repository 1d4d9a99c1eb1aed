"""`/auth`: login, refresh-token rotation, logout, optional sign-up, the current user."""

from __future__ import annotations

from fastapi import APIRouter, Response

from podium.api.deps import CurrentPrincipal, ServicesDep
from podium.api.schemas import (
    LoginRequest,
    RefreshRequest,
    SignupRequest,
    TokenResponse,
    UserPublic,
)
from podium.errors import Forbidden

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login")
async def login(body: LoginRequest, services: ServicesDep) -> TokenResponse:
    """An access token (15 minutes) and a refresh token (7 days) for an email or username."""
    services.limiter.hit(f"login:{body.identifier.lower()}")
    return TokenResponse.of(await services.auth.login(body.identifier, body.password))


@router.post("/refresh")
async def refresh(body: RefreshRequest, services: ServicesDep) -> TokenResponse:
    """Spend a refresh token for a new pair; a token used twice revokes its whole family."""
    return TokenResponse.of(await services.auth.refresh(body.refresh_token))


@router.post("/logout", status_code=204)
async def logout(body: RefreshRequest, services: ServicesDep) -> Response:
    """Revoke the refresh token's family (every token of that login)."""
    await services.auth.logout(body.refresh_token)
    return Response(status_code=204)


@router.post("/signup", status_code=201)
async def signup(body: SignupRequest, services: ServicesDep) -> TokenResponse:
    """Create an account and log in (only when `PODIUM_ALLOW_SIGNUP=true`)."""
    if not services.settings.allow_signup:
        raise Forbidden("sign-up is closed on this server; ask an administrator for an account")
    services.limiter.hit("signup")
    await services.auth.create_user(body.email, body.username, body.password)
    return TokenResponse.of(await services.auth.login(body.username, body.password))


@router.get("/me")
async def me(principal: CurrentPrincipal, services: ServicesDep) -> UserPublic:
    """The user of the access token."""
    if principal.user_id is None:
        raise Forbidden("an API key has no user; /auth/me needs an access token")
    return UserPublic.of(await services.auth.get_user(principal.user_id))
