"""Idempotency: a client names each command with a key of its choosing, and the ledger
performs it at most once.

The same key with the same request returns the first result; the same key with a different
request is refused, never silently treated as a retry. "The same request" is decided by a
fingerprint: SHA-256 over the canonical form of the operation and its parameters.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from core_banking.domain.canonical import canonical_json
from core_banking.domain.errors import InvalidInput

MAX_KEY_LENGTH = 255
_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """The first writer of (scope, key) records which entity its command produced."""

    scope: str
    key: str
    operation: str
    fingerprint: bytes
    entity_id: UUID


def validate_key(key: str) -> str:
    """1 to 255 printable ASCII characters, no spaces: safe in headers, logs and indexes."""
    if not isinstance(key, str) or not _KEY_PATTERN.fullmatch(key):
        raise InvalidInput(
            f"an idempotency key is 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            field="idempotency_key",
        )
    return key


def fingerprint(operation: str, parameters: Mapping[str, Any]) -> bytes:
    """SHA-256 of the canonical operation and parameters."""
    text = canonical_json({"operation": operation, "parameters": dict(parameters)})
    return hashlib.sha256(text.encode("utf-8")).digest()
