"""Prefixed, sortable, opaque identifiers (`run_01j…`).

An id is a prefix, an underscore and a lower-case ULID (48 bits of milliseconds, 80 random
bits, Crockford base32). The encoding is done here rather than with a ULID package because
ids are made on the hot path of every step (two per step with a package was ~9 µs; this is
~2 µs). Event ids are not stored: `event_id` derives them from the app, `seq` and time.
"""

from __future__ import annotations

import hashlib
import os
import time

PREFIXES = frozenset(
    {
        "app",
        "usr",
        "agt",
        "flw",
        "ses",
        "run",
        "stp",
        "int",
        "art",
        "evt",
        "wrk",
        "key",
        "rtk",
        "fam",
        "prv",
        "mcp",
        "tcl",
        "msg",
        "inv",
        "sch",
        "whk",
        "dlv",
        "use",
    }
)
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
# Every pair of base32 digits for a 10-bit value: encoding 26 digits takes 13 lookups.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


def _encode(value: int) -> str:
    """The 128-bit `value` as 26 Crockford base32 digits."""
    pairs = _PAIRS
    # 13 pairs of digits hold 130 bits: the first digit is at most 7, as in every ULID.
    return "".join([pairs[(value >> shift) & 0x3FF] for shift in range(120, -1, -10)])


def ulid_string(milliseconds: int, randomness: int) -> str:
    """The lower-case ULID of a 48-bit time and 80 bits of randomness."""
    return _encode((milliseconds << 80) | randomness)


def new_id(prefix: str) -> str:
    """A new id such as `run_01jb…`: the prefix, an underscore and a lower-case ULID."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    randomness = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{ulid_string(time.time_ns() // 1_000_000, randomness)}"


def event_id(app_id: str, seq: int, ts: float) -> str:
    """The id of the app's event `seq` at time `ts`: a ULID, derived, never stored."""
    digest = hashlib.blake2b(f"{app_id}:{seq}".encode(), digest_size=10).digest()
    return f"evt_{ulid_string(int(ts * 1000), int.from_bytes(digest, 'big'))}"


def step_id(run_id: str, number: int) -> str:
    """The id of a run's step `number`: derived from the run, never stored (`stp_…_3`)."""
    return f"stp_{run_id.partition('_')[2]}_{number}"
