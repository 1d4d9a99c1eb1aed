"""JSON Web Tokens: HS256 only, every registered claim required and checked.

Access and refresh tokens differ by their `typ` claim, so one is never accepted as the other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from podium.errors import Unauthorized

ALGORITHM = "HS256"  # pinned: a token naming any other algorithm (or `none`) is refused
REQUIRED = ["exp", "iat", "iss", "aud", "sub", "jti", "typ"]
TokenType = Literal["access", "refresh"]


@dataclass(frozen=True, slots=True)
class TokenCodec:
    secret: str
    issuer: str
    audience: str

    def encode(
        self, typ: TokenType, subject: str, token_id: str, lifetime_seconds: float, **extra: Any
    ) -> tuple[str, float]:
        """A signed token and its expiry time."""
        now = int(time.time())
        expires = now + int(lifetime_seconds)
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "exp": expires,
            "jti": token_id,
            "typ": typ,
            **extra,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM), float(expires)

    def decode(self, token: str, typ: TokenType) -> dict[str, Any]:
        """The claims of a valid token of type `typ`; anything else is `Unauthorized`."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized(f"the {typ} token has expired; log in again or refresh") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"the {typ} token is not valid: {exc}") from None
        if claims.get("typ") != typ:
            raise Unauthorized(f"this token's typ is {claims.get('typ')!r}; send the {typ} token")
        return claims
