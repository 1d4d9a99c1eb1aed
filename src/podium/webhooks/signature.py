"""The signature of a webhook delivery (docs/webhooks.md, Verifying a delivery).

Each delivery is a POST whose headers carry

    Podium-Timestamp: 1767225600                 (Unix seconds when it was sent)
    Podium-Signature: v1=<hex HMAC-SHA256>       (of "<timestamp>.<raw body>" under the secret)

A receiver recomputes the HMAC over the timestamp, a dot and the body's raw bytes with the
webhook's secret (`whsec_…`, shown once when the webhook was made), compares it in constant
time, and refuses a timestamp more than `REPLAY_WINDOW_SECONDS` away from its own clock, so
that a captured delivery cannot be replayed later. Only this module's standard-library code
is needed to check one.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "Podium-Timestamp"
SIGNATURE_HEADER = "Podium-Signature"
DELIVERY_HEADER = "Podium-Delivery"
EVENT_HEADER = "Podium-Event"
REPLAY_WINDOW_SECONDS = 300
VERSION = "v1"


class SignatureInvalid(ValueError):
    """A delivery whose signature or timestamp does not check out (the message says which)."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Podium-Signature` header's value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{VERSION}={digest.hexdigest()}"


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    tolerance: float = REPLAY_WINDOW_SECONDS,
    now: float | None = None,
) -> None:
    """Check a delivery: `body` its raw bytes, `timestamp` and `signature` its
    `Podium-Timestamp` and `Podium-Signature` headers. Returns None when it is genuine and
    fresh; raises SignatureInvalid otherwise. `signature` may hold several `v1=` values
    separated by spaces or commas (any one matching passes)."""
    if not timestamp or not signature:
        raise SignatureInvalid(f"the {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are needed")
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureInvalid(f"{TIMESTAMP_HEADER} {timestamp!r} is not Unix seconds") from None
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        raise SignatureInvalid(
            f"{TIMESTAMP_HEADER} is {abs(current - sent):.0f} s away from now (more than "
            f"{tolerance:g} s): a replay, or a clock off"
        )
    expected = sign(secret, sent, body)
    offered = [part.strip() for part in signature.replace(",", " ").split()]
    if not any(hmac.compare_digest(expected, part) for part in offered):
        raise SignatureInvalid("the signature does not match the body and the secret")
