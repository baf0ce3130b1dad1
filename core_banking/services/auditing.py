"""Audit records for state changes that are not postings (postings build their own)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from core_banking.domain.audit import AuditRecord
from core_banking.domain.commands import RequestContext


def audit_record(
    context: RequestContext,
    now: datetime,
    action: str,
    entity_type: str,
    entity_id: UUID,
    details: Mapping[str, Any] | None = None,
) -> AuditRecord:
    return AuditRecord(
        occurred_at=now,
        actor=context.actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        request_id=context.request_id,
        details=dict(details or {}),
    )
