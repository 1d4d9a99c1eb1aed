"""`/setup`: the first run of a server, which creates its first administrator.

While the server has no administrator, `podium serve` prints a link with the setup token
(an HMAC of the server secret, so only whoever reads the server's log or knows its secret has
it); `POST /setup` with that token creates the administrator and logs them in. Once an
administrator exists the route answers 409 for good."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from podium.api.deps import ServicesDep
from podium.api.routes.auth import client_address
from podium.api.schemas import SignupRequest, TokenResponse

router = APIRouter(prefix="/setup", tags=["auth"])


class SetupState(BaseModel):
    needs_admin: bool = Field(
        description="true while the server has no administrator: POST /setup creates one"
    )


class SetupRequest(SignupRequest):
    setup_token: str = Field(
        min_length=1,
        max_length=200,
        description="the token of the link `podium serve` prints on a first run",
    )


@router.get("")
async def setup_state(services: ServicesDep) -> SetupState:
    """Whether the server still needs its first administrator (public)."""
    return SetupState(needs_admin=await services.auth.needs_admin())


@router.post("", status_code=201)
async def create_first_admin(
    body: SetupRequest, request: Request, services: ServicesDep
) -> TokenResponse:
    """Create the first administrator with the setup token and log them in (tokens as
    `POST /auth/login`). 403 on a wrong token, 409 once an administrator exists; attempts are
    limited like logins (429 with Retry-After)."""
    # Per client address only: a global count would let a stranger lock the owner out, and
    # the token (256 bits) is not guessed by trying.
    await services.login_limiter.hit(None, client_address(request))
    pair = await services.auth.create_first_admin(
        body.setup_token, body.email, body.username, body.password
    )
    return TokenResponse.of(pair)
