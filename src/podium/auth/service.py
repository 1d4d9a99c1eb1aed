"""Users and their tokens: sign-up, login, refresh-token rotation with reuse detection, logout.

The refresh tokens of one login form a family. Refreshing spends the presented token and
issues the next; a spent token presented again means it was stolen (or replayed), so the
whole family is revoked and both holders must log in again. Access tokens name their family
(`fam`), so logging out (or a detected reuse) refuses them too, and closes the streams they
opened (`podium.auth.revocation`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

from podium.auth.passwords import (
    check_password_strength,
    hash_password_off_loop,
    verify_password_off_loop,
)
from podium.auth.revocation import RevocationSignal, RevokedFamilies
from podium.auth.tokens import TokenCodec
from podium.config import Settings
from podium.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from podium.ids import new_id
from podium.lru import LRU
from podium.storage import accounts
from podium.storage.accounts import UserRecord
from podium.storage.store import Store

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{2,80}$"
EMAIL = re.compile(EMAIL_PATTERN)
USERNAME = re.compile(USERNAME_PATTERN)
VERIFIED_TOKENS = 4096  # access tokens remembered as verified (least recently used go first)


def normalize_identifier(identifier: str) -> str:
    """An email or username as it is looked up and rate-limited: NFKC (so a full-width or
    compatibility spelling is the same name), without surrounding spaces, in lower case."""
    return unicodedata.normalize("NFKC", identifier).strip().lower()


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: UserRecord


async def server_secret(store: Store, settings: Settings) -> str:
    """The server secret: PODIUM_SECRET_KEY, else one made at the first start and kept in
    the database (so every process of the server shares it)."""
    if settings.secret_key:
        return settings.secret_key
    made = secrets.token_urlsafe(48)
    value: str = await store.run_script(lambda: accounts.server_value("jwt_secret", made))
    return value


def setup_token_of(secret: str) -> str:
    """The first-run setup token: HMAC-SHA256 of "first-run" under the server secret, so
    every process of the server knows it and no one without the secret can compute it."""
    return hmac.new(secret.encode(), b"first-run", hashlib.sha256).hexdigest()


async def first_run_token(store: Store, settings: Settings) -> str | None:
    """The setup token while the server has no administrator, else None."""
    admins: int = await store.run_read(accounts.count_admins)
    if admins:
        return None
    return setup_token_of(await server_secret(store, settings))


class AuthService:
    """Accounts and tokens over the store."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.codec: TokenCodec | None = None
        self._verified: LRU[str, dict[str, Any]] = LRU(VERIFIED_TOKENS)
        self.revocations = RevocationSignal()
        self.revoked_families = RevokedFamilies(
            settings.stream_recheck_seconds, self._family_revoked_in_database
        )

    async def open(self) -> None:
        """Pick the signing key: the configured one, else the one kept in the database."""
        secret = await server_secret(self.store, self.settings)
        self.codec = TokenCodec(secret, self.settings.jwt_issuer, self.settings.jwt_audience)
        self._setup_token = setup_token_of(secret)

    @property
    def tokens(self) -> TokenCodec:
        assert self.codec is not None, "AuthService.open() was not awaited"
        return self.codec

    # --- users ----------------------------------------------------------------------

    async def create_user(
        self, email: str, username: str, password: str, *, is_admin: bool = False
    ) -> UserRecord:
        email, hashed = await self._checked_new_user(email, username, password)
        record: UserRecord = await self.store.run_script(
            lambda: accounts.create_user(email, username, hashed, is_admin, time.time())
        )
        return record

    async def needs_admin(self) -> bool:
        """True while the server has no administrator (first-run setup is open)."""
        admins: int = await self.store.run_read(accounts.count_admins)
        return admins == 0

    async def create_first_admin(
        self, setup_token: str, email: str, username: str, password: str
    ) -> TokenPair:
        """The first administrator, created with the setup token that `podium serve` prints
        while there is none; logged in. `Forbidden` on a wrong token, `Conflict` once an
        administrator exists (checked again in the transaction that creates this one)."""
        if not await self.needs_admin():
            raise Conflict(accounts.SETUP_CLOSED)
        if not hmac.compare_digest(setup_token.encode(), self._setup_token.encode()):
            raise Forbidden(
                "wrong setup token: use the link that `podium serve` printed in its log "
                "(first run: open http://…/console/#/setup?token=…)",
                details={"field": "setup_token"},
            )
        email, password_hash = await self._checked_new_user(email, username, password)
        user: UserRecord = await self.store.run_script(
            lambda: accounts.create_first_admin(email, username, password_hash, time.time())
        )
        return await self._issue(user, new_id("fam"))

    async def _checked_new_user(self, email: str, username: str, password: str) -> tuple[str, str]:
        """The normalized email and the password's hash, after the rules of every new user."""
        email = normalize_identifier(email)
        if not EMAIL.match(email):
            raise InvalidInput(f"{email!r} is not an email address", details={"field": "email"})
        if not USERNAME.match(username):
            raise InvalidInput(
                "a username is 2 to 80 letters, digits, '_', '.' or '-'",
                details={"field": "username"},
            )
        self.check_new_password(password, email, username)
        return email, await hash_password_off_loop(password)

    def check_new_password(self, password: str, email: str, username: str) -> None:
        """Refuse a short or common password (`PODIUM_PASSWORD_MIN_SCORE`)."""
        check_password_strength(
            password, self.settings.password_min_score, [email, email.split("@")[0], username]
        )

    async def change_password(self, user_id: str, current: str, new: str) -> None:
        """Set a new password after checking the current one; every login of the user is
        revoked (their other devices, and whoever else held a token, must log in again)."""
        user = await self.get_user(user_id)
        if not await verify_password_off_loop(user.password_hash, current):
            raise Unauthorized("the current password is wrong")
        self.check_new_password(new, user.email, user.username)
        hashed = await hash_password_off_loop(new)
        families: list[str] = await self.store.run_script(
            lambda: accounts.set_password(user_id, hashed)
        )
        for family in families:
            self.revoked_families.mark(family)
        self.revocations.notify()

    async def get_user(self, user_id: str) -> UserRecord:
        record: UserRecord = await self.store.run_read(lambda: accounts.get_user(user_id))
        return record

    async def list_users(self, limit: int, after: str | None) -> list[UserRecord]:
        records: list[UserRecord] = await self.store.run_read(
            lambda: accounts.list_users(limit, after)
        )
        return records

    async def delete_user(self, user_id: str) -> None:
        await self.store.run_script(lambda: accounts.delete_user(user_id))
        self.revocations.notify()  # the user's open streams end now

    # --- tokens ---------------------------------------------------------------------

    async def login(self, identifier: str, password: str) -> TokenPair:
        """Tokens for the user whose email or username (in any case) is `identifier`."""
        name = normalize_identifier(identifier)
        user: UserRecord | None = await self.store.run_read(lambda: accounts.find_user(name))
        verified = await verify_password_off_loop(user.password_hash if user else None, password)
        if not verified or user is None:
            raise Unauthorized("wrong email, username or password")
        return await self._issue(user, new_id("fam"))

    async def issue_tokens(self, user: UserRecord) -> TokenPair:
        """A new login of `user` without a password: for the server's own use only (the
        login link of `podium serve --dev`, on loopback)."""
        return await self._issue(user, new_id("fam"))

    async def find_user(self, identifier: str) -> UserRecord | None:
        """The user whose email or username (in any case) is `identifier`, or None."""
        name = normalize_identifier(identifier)
        record: UserRecord | None = await self.store.run_read(lambda: accounts.find_user(name))
        return record

    async def refresh(self, refresh_token: str) -> TokenPair:
        claims = self.tokens.decode(refresh_token, "refresh")
        user_id, family = await self.store.run_script(
            lambda: accounts.spend_refresh_token(claims["jti"], time.time())
        )
        if user_id is None:
            if family is not None:
                self._revoke_family(family)
                raise Unauthorized(
                    "this refresh token was already used; every token of this login is now "
                    "revoked, log in again"
                )
            raise Unauthorized("this refresh token is not known; log in again")
        return await self._issue(await self.get_user(user_id), family)

    async def logout(self, refresh_token: str) -> None:
        """Revoke the login of `refresh_token`: its refresh tokens, its access tokens and the
        streams they opened."""
        claims = self.tokens.decode(refresh_token, "refresh")
        family: str | None = await self.store.run_script(
            lambda: accounts.revoke_family(claims["jti"])
        )
        if family is not None:
            self._revoke_family(family)

    def _revoke_family(self, family: str) -> None:
        self.revoked_families.mark(family)
        self.revocations.notify()

    async def _family_revoked_in_database(self, family: str) -> bool:
        revoked: bool = await self.store.run_read(lambda: accounts.family_revoked(family))
        return revoked

    async def access_family_revoked(self, claims: dict[str, Any], *, fresh: bool = False) -> bool:
        """Whether the login of an access token was logged out: known at once in this process,
        from another process within PODIUM_STREAM_RECHECK_SECONDS (`fresh`: ask the database)."""
        family = claims.get("fam")
        if not isinstance(family, str):
            return False  # a token made before access tokens named their login
        return await self.revoked_families.is_revoked(family, fresh=fresh)

    async def _issue(self, user: UserRecord, family: str) -> TokenPair:
        access_seconds = self.settings.access_token_minutes * 60
        access, _ = self.tokens.encode("access", user.id, new_id("rtk"), access_seconds, fam=family)
        token_id = new_id("rtk")
        refresh, expires = self.tokens.encode(
            "refresh", user.id, token_id, self.settings.refresh_token_days * 86400, fam=family
        )
        await self.store.run_script(
            lambda: accounts.insert_refresh_token(token_id, user.id, family, expires, time.time())
        )
        return TokenPair(access, refresh, int(access_seconds), user)

    def access_claims(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token. A token verified once is remembered until it
        expires (verifying the signature was 6 % of a request's cost); the user is still read
        on every request and the login checked against the revoked families, so a deleted
        user's or a logged-out login's tokens stop working at once."""
        claims = self._verified.get(token)
        if claims is not None and claims["exp"] > time.time():
            return claims
        claims = self.tokens.decode(token, "access")
        self._verified.put(token, claims)
        return claims
