"""Free-form metadata that callers attach to an entry: bounded, and JSON without floats.

Metadata is stored with the entry and hashed into fingerprints and the audit trail, so it
is held to a shape that survives all three exactly: string keys; string, integer, boolean
or null values; objects and lists nested at most MAX_DEPTH deep; and a size limit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core_banking.domain.errors import InvalidInput

MAX_DEPTH = 3
MAX_KEYS = 50
MAX_KEY_LENGTH = 64
MAX_STRING_LENGTH = 500
MAX_ENCODED_BYTES = 4096


def validate_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A plain copy of ``metadata``, or InvalidInput saying what is wrong with it."""
    if not isinstance(metadata, Mapping):
        raise InvalidInput("metadata is an object", field="metadata")
    checked = _check(metadata, depth=1)
    if len(json.dumps(checked, ensure_ascii=False).encode("utf-8")) > MAX_ENCODED_BYTES:
        raise InvalidInput(f"metadata is at most {MAX_ENCODED_BYTES} bytes", field="metadata")
    return dict(checked)


def _check(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING_LENGTH:
            raise InvalidInput(
                f"metadata strings are at most {MAX_STRING_LENGTH} characters", field="metadata"
            )
        return value
    if depth > MAX_DEPTH:
        raise InvalidInput(f"metadata nests at most {MAX_DEPTH} levels", field="metadata")
    if isinstance(value, Mapping):
        if len(value) > MAX_KEYS:
            raise InvalidInput(f"metadata objects have at most {MAX_KEYS} keys", field="metadata")
        for key in value:
            if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH:
                raise InvalidInput(
                    f"metadata keys are 1 to {MAX_KEY_LENGTH} characters", field="metadata"
                )
        return {key: _check(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        if len(value) > MAX_KEYS:
            raise InvalidInput(f"metadata lists have at most {MAX_KEYS} items", field="metadata")
        return [_check(item, depth + 1) for item in value]
    raise InvalidInput(
        f"metadata values are strings, integers, booleans or null, not {type(value).__name__}",
        field="metadata",
    )
