"""Reading the audit trail (auditors and administrators)."""

from __future__ import annotations

from dataclasses import replace

from core_banking.domain.audit import StoredAuditEvent
from core_banking.ports import AuditQuery, LedgerStore

MAX_PAGE = 500


class AuditTrailService:
    def __init__(self, store: LedgerStore) -> None:
        self._store = store

    async def events(self, query: AuditQuery) -> list[StoredAuditEvent]:
        bounded = replace(query, limit=min(max(query.limit, 1), MAX_PAGE))
        # auditors' reports of an append-only trail may be a moment behind: a replica
        return await self._store.read_replica(lambda uow: uow.audit.events(bounded))
