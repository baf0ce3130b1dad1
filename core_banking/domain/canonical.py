"""One canonical text for a structure, so that hashes of it mean something.

Idempotency fingerprints and audit-chain hashes are computed over this text; two equal
structures always give the same bytes (sorted keys, no insignificant whitespace, UTF-8),
and types with no JSON form (ids, dates, decimals, enums) become their exact string form.
Floats never get this far: money and rates are integers and Decimals, and free-form data
from callers is checked at the edge (`core_banking.domain.metadata`).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID


def _exact_string(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("timestamps must carry a time zone")
        return value.astimezone(UTC).isoformat()  # one moment, one text
    if isinstance(value, UUID | date | Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} has no canonical form")


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, compact separators, exact strings for rich types."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_exact_string,
    )
