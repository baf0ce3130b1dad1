"""The posting engine for PostgreSQL: one call to ``nexum_post_entry``.

The function (core_banking/migrations/sql/0001_ledger_functions.sql) does the whole posting
on the server. Called on its own, outside any transaction, it is a single round trip and a
single transaction; called inside a unit of work, it joins that transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.audit import AuditRecord
from core_banking.domain.canonical import canonical_json
from core_banking.domain.errors import AlreadyReversed
from core_banking.domain.idempotency import IdempotencyClaim
from core_banking.domain.ledger import PostingRequest, PostingResult
from core_banking.storage.errors import rule_violation, violated_constraint
from core_banking.storage.journal import JournalReader, entry_from_request, replayed_result

_POST = text(
    "SELECT entry_id, replayed, posted_at, account_seqs, balances_after FROM nexum_post_entry("
    ":entry_id, :entry_type, :business_date, :value_date, :actor, :channel, :reference,"
    " CAST(:metadata AS jsonb), :request_id, :reversal_of,"
    " :leg_accounts, :leg_sides, :leg_amounts, :leg_currencies, :leg_enforce_funds,"
    " :leg_count_daily, :leg_required_kinds, :leg_release_held, :leg_default_min_balances,"
    " :leg_default_daily_limits,"
    " :idem_scope, :idem_key, :idem_operation, :idem_fingerprint,"
    " :audit_occurred_at, :audit_action, :audit_payload)"
)


class PostgresPostingWriter:
    def __init__(self, conn: AsyncConnection, *, audit_enabled: bool) -> None:
        self._conn = conn
        self._audit_enabled = audit_enabled

    async def post(
        self,
        request: PostingRequest,
        claim: IdempotencyClaim | None,
        audit: AuditRecord | None,
    ) -> PostingResult:
        if not self._audit_enabled:
            audit = None
        try:
            row = (await self._conn.execute(_POST, _parameters(request, claim, audit))).one()
        except DBAPIError as exc:
            refused = rule_violation(exc)
            if refused is not None:
                raise refused from None
            if violated_constraint(exc) == "uq_journal_entries_reversal_of":
                raise AlreadyReversed(
                    "this entry has already been reversed", entry_id=str(request.reversal_of)
                ) from None
            raise
        if row.replayed:
            return await replayed_result(JournalReader(self._conn), row.entry_id)
        return PostingResult(
            entry=entry_from_request(request, row.posted_at, row.account_seqs, row.balances_after),
            replayed=False,
        )


def _parameters(
    request: PostingRequest, claim: IdempotencyClaim | None, audit: AuditRecord | None
) -> dict[str, Any]:
    legs = request.legs
    limits = [request.limits.get(leg.currency) for leg in legs]
    return {
        "entry_id": request.entry_id,
        "entry_type": request.entry_type.value,
        "business_date": request.business_date,
        "value_date": request.value_date,
        "actor": request.actor,
        "channel": request.channel.value if request.channel else None,
        "reference": request.reference,
        "metadata": canonical_json(dict(request.metadata)),
        "request_id": request.request_id,
        "reversal_of": request.reversal_of,
        "leg_accounts": [leg.account_id for leg in legs],
        "leg_sides": [leg.side.value for leg in legs],
        "leg_amounts": [leg.amount_minor for leg in legs],
        "leg_currencies": [leg.currency for leg in legs],
        "leg_enforce_funds": [leg.enforce_funds for leg in legs],
        "leg_count_daily": [leg.counts_toward_daily_limit for leg in legs],
        "leg_required_kinds": [
            leg.required_kind.value if leg.required_kind else None for leg in legs
        ],
        "leg_release_held": [leg.release_held_minor for leg in legs],
        "leg_default_min_balances": [x.min_balance_minor if x else None for x in limits],
        "leg_default_daily_limits": [x.daily_limit_minor if x else None for x in limits],
        "idem_scope": claim.scope if claim else None,
        "idem_key": claim.key if claim else None,
        "idem_operation": claim.operation if claim else None,
        "idem_fingerprint": claim.fingerprint if claim else None,
        "audit_occurred_at": audit.occurred_at if audit else None,
        "audit_action": audit.action if audit else None,
        "audit_payload": audit.payload() if audit else None,
    }
