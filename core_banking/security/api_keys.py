"""API keys for machine clients: ``nxk_<id>_<secret>``.

The id (the key's row id, 32 hex digits) finds the row; the secret (32 random bytes,
urlsafe base64) is checked against its SHA-256. A slow password hash buys nothing for 256
random bits, and a fast check keeps every machine request cheap. The full key is shown once,
when it is created.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from uuid import UUID

PREFIX = "nxk"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def format_key(key_id: UUID, secret: str) -> str:
    return f"{PREFIX}_{key_id.hex}_{secret}"


def parse_key(presented: str) -> tuple[UUID, str] | None:
    """The id and secret of something that looks like a Nexum API key, or None."""
    prefix, _, rest = presented.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or len(key_id) != 32 or not secret:
        return None
    try:
        return UUID(hex=key_id), secret
    except ValueError:
        return None


def secret_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def secret_matches(secret: str, digest: bytes) -> bool:
    return hmac.compare_digest(secret_digest(secret), digest)
