"""The posting engine for PostgreSQL: one call to ``nexum_post_entry``.

The function (core_banking/migrations/sql/0001_ledger_functions.sql) does the whole posting
on the server. Called on its own, outside any transaction, it is a single round trip and a
single transaction; called inside a unit of work, it joins that transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.accounts import Side
from core_banking.domain.audit import AuditRecord
from core_banking.domain.canonical import canonical_json
from core_banking.domain.errors import AlreadyReversed
from core_banking.domain.idempotency import IdempotencyClaim
from core_banking.domain.ledger import Leg, PostingRequest, PostingResult
from core_banking.storage.audit import AuditWriter
from core_banking.storage.errors import rule_violation, violated_constraint
from core_banking.storage.journal import JournalReader, entry_from_request, replayed_result

_ARGUMENTS = (
    "entry_id",
    "entry_type",
    "business_date",
    "value_date",
    "actor",
    "channel",
    "reference",
    "metadata",
    "request_id",
    "reversal_of",
    "accounts",
    "debits",
    "credits",
    "currencies",
    "required_kinds",
    "enforce_funds",
    "daily_amounts",
    "release_held",
    "line_counts",
    "default_min_balances",
    "default_daily_limits",
    "line_accounts",
    "line_sides",
    "line_amounts",
    "idem_scope",
    "idem_key",
    "idem_operation",
    "idem_fingerprint",
    "audit_occurred_at",
    "audit_action",
    "audit_payload",
)
_CALL = (
    "SELECT entry_id, replayed, posted_at, account_seqs, balances_after FROM nexum_post_entry({})"
)
_NAMED = text(_CALL.format(", ".join(f":{name}" for name in _ARGUMENTS)))
_POSITIONAL = _CALL.format(", ".join(f"${number}" for number in range(1, len(_ARGUMENTS) + 1)))


class PostgresPostingWriter:
    """Posts through SQLAlchemy inside a unit of work; on its own (autocommit) it can be
    given the asyncpg connection underneath, which skips SQLAlchemy's statement machinery
    on the hottest call in the system (measured: docs/adr/0002-postings-in-one-round-trip.md).
    """

    def __init__(
        self, conn: AsyncConnection, audit: AuditWriter, driver: Any | None = None
    ) -> None:
        self._conn = conn
        self._audit = audit
        self._driver = driver

    async def post(
        self,
        request: PostingRequest,
        claim: IdempotencyClaim | None,
        audit: AuditRecord | None,
    ) -> PostingResult:
        if not self._audit.enabled:
            audit = None
        arguments = _arguments(request, claim, audit)
        try:
            if self._driver is not None:
                row = await self._driver.fetchrow(_POSITIONAL, *arguments.values())
            else:
                row = (await self._conn.execute(_NAMED, arguments)).one()._mapping
        except Exception as exc:
            refused = rule_violation(exc)
            if refused is not None:
                raise refused from None
            if violated_constraint(exc) == "uq_journal_entries_reversal_of":
                raise AlreadyReversed(
                    "this entry has already been reversed", entry_id=str(request.reversal_of)
                ) from None
            raise
        if row["replayed"]:
            return await replayed_result(JournalReader(self._conn), row["entry_id"])
        if audit is not None:
            self._audit.note(audit.action)
        return PostingResult(
            entry=entry_from_request(
                request, row["posted_at"], row["account_seqs"], row["balances_after"]
            ),
            replayed=False,
        )


def _arguments(
    request: PostingRequest, claim: IdempotencyClaim | None, audit: AuditRecord | None
) -> dict[str, Any]:
    """The function's arguments, in its order. Legs are summed per account here, in account
    id order, so the database does no grouping; lines keep the entry's order."""
    accounts = sorted({leg.account_id for leg in request.legs})
    position = {account_id: index for index, account_id in enumerate(accounts)}
    per_account = [_AccountTotals() for _ in accounts]
    for leg in request.legs:
        per_account[position[leg.account_id]].add(leg)
    limits = [request.limits.get(totals.currency) for totals in per_account]
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
        "accounts": accounts,
        "debits": [t.debits for t in per_account],
        "credits": [t.credits for t in per_account],
        "currencies": [t.currency for t in per_account],
        "required_kinds": [t.required_kind for t in per_account],
        "enforce_funds": [t.enforce_funds for t in per_account],
        "daily_amounts": [t.daily_amount for t in per_account],
        "release_held": [t.release_held for t in per_account],
        "line_counts": [t.lines for t in per_account],
        "default_min_balances": [x.min_balance_minor if x else None for x in limits],
        "default_daily_limits": [x.daily_limit_minor if x else None for x in limits],
        "line_accounts": [position[leg.account_id] + 1 for leg in request.legs],
        "line_sides": [leg.side.value for leg in request.legs],
        "line_amounts": [leg.amount_minor for leg in request.legs],
        "idem_scope": claim.scope if claim else None,
        "idem_key": claim.key if claim else None,
        "idem_operation": claim.operation if claim else None,
        "idem_fingerprint": claim.fingerprint if claim else None,
        "audit_occurred_at": audit.occurred_at if audit else None,
        "audit_action": audit.action if audit else None,
        "audit_payload": audit.payload() if audit else None,
    }


class _AccountTotals:
    """The legs of one entry on one account, summed."""

    __slots__ = (
        "credits",
        "currency",
        "daily_amount",
        "debits",
        "enforce_funds",
        "lines",
        "release_held",
        "required_kind",
    )

    def __init__(self) -> None:
        self.debits = 0
        self.credits = 0
        self.currency = ""
        self.required_kind: str | None = None
        self.enforce_funds = False
        self.daily_amount = 0
        self.release_held = 0
        self.lines = 0

    def add(self, leg: Leg) -> None:
        if leg.side is Side.DEBIT:
            self.debits += leg.amount_minor
        else:
            self.credits += leg.amount_minor
        self.currency = leg.currency
        self.required_kind = leg.required_kind.value if leg.required_kind else None
        self.enforce_funds = self.enforce_funds or leg.enforce_funds
        if leg.counts_toward_daily_limit:
            self.daily_amount += leg.amount_minor
        self.release_held += leg.release_held_minor
        self.lines += 1
