"""Identifiers made by the application, not the database.

Nexum chooses every primary key before it talks to storage, so a posting's id can go into
its audit record and idempotency row in the same round trip, and a client retry can be
matched to the id it was first given. UUID version 7 (RFC 9562) keeps ids time-ordered,
which keeps B-tree inserts local; Python gains ``uuid.uuid7`` only in 3.14, so the dozen
lines are here.
"""

from __future__ import annotations

import secrets
import time
import uuid

_UNIX_MS_BITS = 48
_RAND_A_BITS = 12
_RAND_B_BITS = 62


def uuid7() -> uuid.UUID:
    """A random, time-ordered UUID: 48 bits of Unix milliseconds, then 74 random bits."""
    unix_ms = time.time_ns() // 1_000_000
    rand_a = secrets.randbits(_RAND_A_BITS)
    rand_b = secrets.randbits(_RAND_B_BITS)
    value = unix_ms & ((1 << _UNIX_MS_BITS) - 1)
    value = (value << 4) | 0x7  # version
    value = (value << _RAND_A_BITS) | rand_a
    value = (value << 2) | 0b10  # RFC 9562 variant
    value = (value << _RAND_B_BITS) | rand_b
    return uuid.UUID(int=value)
