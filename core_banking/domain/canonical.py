"""One canonical text for a structure, so that hashes of it mean something.

Idempotency fingerprints and audit-chain hashes are computed over this text; two equal
structures always give the same bytes (sorted keys, no insignificant whitespace, UTF-8),
and types with no JSON form (ids, dates, decimals, enums) become their exact string form.
Floats are refused outright: money and rates never pass through them.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID


def _exact_string(value: Any) -> str:
    if isinstance(value, float):
        raise TypeError("floats have no place in canonical banking data")
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("timestamps must carry a time zone")
        return value.isoformat()
    if isinstance(value, UUID | date | Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} has no canonical form")


def _reject_floats(value: Any) -> Any:
    if isinstance(value, float):
        raise TypeError("floats have no place in canonical banking data")
    if isinstance(value, dict):
        return {key: _reject_floats(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_reject_floats(item) for item in value]
    return value


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, compact separators, exact strings for rich types."""
    return json.dumps(
        _reject_floats(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_exact_string,
    )
