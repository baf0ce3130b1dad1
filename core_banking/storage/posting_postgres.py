"""The posting engine for PostgreSQL: one call to ``nexum_post_entry``.

The function (core_banking/migrations/sql/0001_ledger_functions.sql) does the whole posting
on the server. Called on its own, outside any transaction, it is a single round trip and a
single transaction; called inside a unit of work, it joins that transaction. Several
postings in one unit of work are one call to ``nexum_post_entries``
(core_banking/migrations/sql/0013_set_based_batch_posting.sql), which posts them all with one
statement a table: the same arguments, one array each, so an atomic batch is one round trip
(one per ``ENTRIES_PER_CALL`` entries).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.accounts import Side
from core_banking.domain.audit import AuditRecord
from core_banking.domain.canonical import canonical_json
from core_banking.domain.errors import AlreadyReversed, DomainError
from core_banking.domain.idempotency import IdempotencyClaim
from core_banking.domain.ledger import Leg, PostingRequest, PostingResult
from core_banking.ports import PreparedPosting
from core_banking.storage.audit import AuditWriter
from core_banking.storage.errors import rule_violation, violated_constraint
from core_banking.storage.journal import JournalReader, entry_from_request, replayed_result

_ENTRY = (
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
)
# One element per account the entry touches, then one per line: for several entries these
# arrays are laid end to end.
_PER_ACCOUNT = (
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
)
_PER_LINE = ("line_accounts", "line_sides", "line_amounts")
_CLAIM_AND_AUDIT = (
    "idem_scope",
    "idem_key",
    "idem_operation",
    "idem_fingerprint",
    "audit_occurred_at",
    "audit_action",
    "audit_payload",
)
_ARGUMENTS = _ENTRY + _PER_ACCOUNT + _PER_LINE + _CLAIM_AND_AUDIT
_LAID_END_TO_END = frozenset(_PER_ACCOUNT + _PER_LINE)
# For several entries, how many accounts and lines each has, in order.
_MANY_ARGUMENTS = (*_ARGUMENTS, "account_counts", "line_totals")

_CALL = "SELECT entry_id, replayed, posted_at, account_seqs, balances_after FROM {}({})"
_NAMED = text(_CALL.format("nexum_post_entry", ", ".join(f":{name}" for name in _ARGUMENTS)))
_POSITIONAL = _CALL.format(
    "nexum_post_entry", ", ".join(f"${number}" for number in range(1, len(_ARGUMENTS) + 1))
)
_NAMED_MANY = text(
    _CALL.format("nexum_post_entries", ", ".join(f":{name}" for name in _MANY_ARGUMENTS))
)

_LOCK_IN_ORDER = text("SELECT 1 FROM accounts WHERE id = ANY(:ids) ORDER BY id FOR UPDATE")

ENTRIES_PER_CALL = 1000
"""The most entries one call of ``nexum_post_entries`` posts. A longer batch takes several
calls, so that no call nears the statement timeout (30 s by default), even for a batch the
function posts entry by entry (about a millisecond an entry on a busy two-core machine)."""


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
            refused = _refusal(exc, request.reversal_of)
            if refused is None:
                raise
            raise refused from None
        return await self._result(request, audit, row)

    async def post_many(self, postings: Sequence[PreparedPosting]) -> list[PostingResult]:
        """One call of ``nexum_post_entries`` per ``ENTRIES_PER_CALL`` postings. Each call
        locks its accounts in id order; postings that take several calls first lock all
        their accounts so, or two long batches could each hold what the other waits for."""
        if len(postings) > ENTRIES_PER_CALL:
            touched = sorted({leg.account_id for p in postings for leg in p.request.legs})
            await self._conn.execute(_LOCK_IN_ORDER, {"ids": touched})
        results: list[PostingResult] = []
        for first in range(0, len(postings), ENTRIES_PER_CALL):
            results += await self._post_entries(postings[first : first + ENTRIES_PER_CALL], first)
        return results

    async def _post_entries(
        self, postings: Sequence[PreparedPosting], first: int
    ) -> list[PostingResult]:
        """Postings ``first`` onwards in one call. The function's refusals name the entry by
        its place in the call; ``first`` makes it the place among all the postings. Batches
        reverse nothing: a reversal in one is refused by the function as when posted alone,
        but is not told apart from other errors if it loses a race."""
        audited = self._audit.enabled
        columns: dict[str, list[Any]] = {name: [] for name in _MANY_ARGUMENTS}
        for posting in postings:
            arguments = _arguments(
                posting.request, posting.claim, posting.audit if audited else None
            )
            for name, value in arguments.items():
                if name in _LAID_END_TO_END:
                    columns[name].extend(value)
                else:
                    columns[name].append(value)
            columns["account_counts"].append(len(arguments["accounts"]))
            columns["line_totals"].append(len(posting.request.legs))
        try:
            rows = (await self._conn.execute(_NAMED_MANY, columns)).all()
        except Exception as exc:
            refused = _refusal(exc, None)
            if refused is None:
                raise
            if "operation_index" in refused.context:
                refused.context["operation_index"] += first
            raise refused from None
        return [
            await self._result(posting.request, posting.audit if audited else None, row._mapping)
            for posting, row in zip(postings, rows, strict=True)
        ]

    async def _result(
        self, request: PostingRequest, audit: AuditRecord | None, row: Any
    ) -> PostingResult:
        """The posting the function reported: written now, or the one a replayed key
        names (read back)."""
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


def _refusal(exc: Exception, reversal_of: UUID | None) -> DomainError | None:
    """The bank's refusal an error from the posting function stands for, if it is one."""
    refused = rule_violation(exc)
    if refused is not None:
        return refused
    if reversal_of is not None and violated_constraint(exc) == "uq_journal_entries_reversal_of":
        return AlreadyReversed("this entry has already been reversed", entry_id=str(reversal_of))
    return None


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
