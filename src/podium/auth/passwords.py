"""Password hashing with Argon2id (argon2-cffi), the OWASP-recommended default, and the
strength check of new passwords (zxcvbn, which ships its own frequency lists of common
passwords, words and names).

Hashing and verifying take ~50-100 ms of CPU each. The async forms run them on a small pool
of their own threads (argon2 releases the GIL), so a flood of logins queues there instead of
blocking the event loop and every other request with it.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from podium.errors import InvalidInput

_HASHER = PasswordHasher()
MIN_LENGTH = 8
# zxcvbn refuses longer input (its matching is superlinear): the first 72 characters are scored.
STRENGTH_CHARS = 72
# Two threads: logins can take at most two cores, and the rest of the server keeps the others.
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="podium-password")


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both answers take the same time.
    Made on first use: the engine imports this module (the server secret) but never logs in."""
    return _HASHER.hash("podium-no-such-user")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no hash, still spends the time of a check."""
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_off_loop(password: str) -> str:
    """`hash_password` on the password threads, not the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, hash_password, password)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    """`verify_password` on the password threads, not the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_POOL, verify_password, password_hash, password)


def check_password_strength(password: str, min_score: int, user_inputs: list[str]) -> None:
    """Refuse a password shorter than `MIN_LENGTH` or whose zxcvbn score (0-4) is below
    `min_score`: common passwords, keyboard walks, dates, repeats, the user's own name."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            f"a password has at least {MIN_LENGTH} characters", details={"field": "password"}
        )
    if min_score <= 0:
        return
    # Imported here: its word lists take ~15 MiB, which only a server setting passwords needs.
    from zxcvbn import zxcvbn

    result = zxcvbn(password[:STRENGTH_CHARS], user_inputs=[u for u in user_inputs if u])
    score = int(result["score"])
    if score >= min_score:
        return
    feedback = result.get("feedback") or {}
    why = feedback.get("warning") or "it is too easy to guess"
    hints = " ".join(feedback.get("suggestions") or [])
    raise InvalidInput(
        f"this password is too weak: {why.rstrip('.')} (strength {score} of 4, the server asks "
        f"for {min_score}, PODIUM_PASSWORD_MIN_SCORE). Use a longer passphrase of unrelated "
        f"words. {hints}".strip(),
        details={"field": "password", "score": score, "min_score": min_score},
    )
