"""Webhooks: an app's signed HTTP callbacks on its events (docs/webhooks.md).

A receiver checks a delivery with `verify_signature`:

    from podium.webhooks import verify_signature
"""

from podium.webhooks.signature import (
    REPLAY_WINDOW_SECONDS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureInvalid,
    sign,
    verify_signature,
)

__all__ = [
    "REPLAY_WINDOW_SECONDS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SignatureInvalid",
    "sign",
    "verify_signature",
]
