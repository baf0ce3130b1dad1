"""/audit: the audit trail, for auditors."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from core_banking.api.problems import common_statuses, responses
from core_banking.api.schemas.common import Page, Timestamp, decode_cursor, encode_cursor
from core_banking.api.security import BankDep, Requires
from core_banking.domain.audit import StoredAuditEvent
from core_banking.domain.security import Permission, Principal
from core_banking.ports import AuditQuery

router = APIRouter(prefix="/audit", tags=["audit"])

PAGE_LIMIT = 500


class ChainPosition(BaseModel):
    shard: int
    seq: int
    hash: str


class AuditEventOut(BaseModel):
    occurred_at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    request_id: str | None
    details: dict[str, Any]
    chain: ChainPosition

    @classmethod
    def of(cls, event: StoredAuditEvent) -> AuditEventOut:
        return cls(
            occurred_at=event.occurred_at,
            actor=event.actor,
            action=event.action,
            entity_type=event.entity_type,
            entity_id=event.entity_id,
            request_id=event.request_id,
            details=json.loads(event.payload).get("details", {}),
            chain=ChainPosition(shard=event.shard, seq=event.seq, hash=event.hash.hex()),
        )


def _audit_position(value: Any) -> tuple[datetime, int, int]:
    """(occurred_at, shard, seq) of the last event a page showed, as its cursor carries it."""
    occurred_at, shard, seq = value
    moment = datetime.fromisoformat(occurred_at)
    if moment.tzinfo is None:
        raise ValueError("a cursor's time carries its zone")
    return moment, int(shard), int(seq)


@router.get(
    "/events",
    operation_id="audit_events",
    summary="The audit trail, newest first, filtered, a page at a time",
    responses=responses(*common_statuses()),
)
async def audit_events(
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.AUDIT_READ))],
    entity_type: Annotated[str | None, Query(max_length=64)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[Timestamp | None, Query(alias="from")] = None,
    until: Annotated[Timestamp | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 100,
    cursor: str | None = None,
) -> Page[AuditEventOut]:
    before = decode_cursor(cursor, _audit_position)
    events = await bank.audit_trail.events(
        AuditQuery(
            limit=limit,
            before=before,
            entity_type=entity_type,
            entity_id=entity_id,
            actor=actor,
            action=action,
            since=since,
            until=until,
        )
    )
    last = events[-1] if len(events) == limit else None
    return Page(
        items=[AuditEventOut.of(event) for event in events],
        next_cursor=encode_cursor([last.occurred_at.isoformat(), last.shard, last.seq])
        if last
        else None,
    )
