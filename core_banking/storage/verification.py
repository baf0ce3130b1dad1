"""`nexum verify`: recompute the ledger from its lines and check every invariant.

Run inside one read-only snapshot, so a busy ledger is checked as of one moment. Each check
reports its first violation; a clean ledger reports none. The checks:

    currency_totals   the accounts' balances, signed by normal side, sum to zero per currency
    journal_totals    all debits equal all credits per currency
    entries_balanced  every entry has two or more lines and balances per currency
    stored_balances   every account's stored balance equals the sum of its lines
    balance_chains    every line's balance-after equals the previous one plus its amount,
                      positions run 1, 2, 3 … and the account knows its last position
    held_totals       every account's held amount equals the sum of its active holds
    credit_line_balances  every credit line's principal, interest and fees owed equal the
                      sums of its subledger movements
    credit_line_entries   in every journal entry, the lines on credit lines receivable (1300)
                      net to the movements the entry records, so together with
                      stored_balances each currency's 1300 balance is its lines' balances
    loan_principal    every disbursed loan's ledger account holds exactly the principal its
                      installments have outstanding, nothing once written off or closed
                      (docs/adr/0008-loan-ledger-accounts.md)
    loan_receivables  per currency, interest receivable (1210) is the loans' billed interest
                      unpaid and fees receivable (1220) their late fees unpaid (loans are the
                      only users of both; written-off and closed loans owe nothing)
    audit_chain       every audit chain's hashes hold and its head matches its last record
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.audit import StoredAuditRecord, first_break
from core_banking.storage.base import Storage

_SIGNED = (
    "CASE WHEN CAST(l.side AS VARCHAR(1))"
    " = CASE WHEN a.account_type IN ('asset', 'expense') THEN 'D' ELSE 'C' END"
    " THEN l.amount_minor ELSE -l.amount_minor END"
)

_CHECKS: dict[str, tuple[TextClause, Callable[..., str]]] = {
    "currency_totals": (
        text(
            "SELECT currency, SUM(CASE WHEN account_type IN ('asset', 'expense')"
            " THEN posted_minor ELSE -posted_minor END) AS net"
            " FROM accounts GROUP BY currency"
            " HAVING SUM(CASE WHEN account_type IN ('asset', 'expense')"
            " THEN posted_minor ELSE -posted_minor END) <> 0 ORDER BY currency LIMIT 1"
        ),
        lambda r: f"account balances in {r.currency} do not sum to zero (net {int(r.net)})",
    ),
    "journal_totals": (
        text(
            "SELECT currency, SUM(CASE WHEN side = 'D' THEN amount_minor ELSE -amount_minor END)"
            " AS net FROM journal_lines GROUP BY currency"
            " HAVING SUM(CASE WHEN side = 'D' THEN amount_minor ELSE -amount_minor END) <> 0"
            " ORDER BY currency LIMIT 1"
        ),
        lambda r: f"journal debits and credits in {r.currency} differ by {int(r.net)}",
    ),
    "entries_balanced": (
        text(
            "SELECT e.id AS entry_id FROM journal_entries e"
            " LEFT JOIN journal_lines l ON l.entry_id = e.id"
            " GROUP BY e.id"
            " HAVING COUNT(l.line_no) < 2 OR EXISTS ("
            "   SELECT 1 FROM journal_lines x WHERE x.entry_id = e.id GROUP BY x.currency"
            "   HAVING SUM(CASE WHEN x.side = 'D' THEN x.amount_minor"
            "   ELSE -x.amount_minor END) <> 0)"
            " ORDER BY e.id LIMIT 1"
        ),
        lambda r: f"journal entry {r.entry_id} does not balance",
    ),
    "stored_balances": (
        text(
            f"SELECT a.id AS account_id, a.posted_minor AS stored,"
            f" COALESCE(SUM({_SIGNED}), 0) AS computed"
            " FROM accounts a LEFT JOIN journal_lines l ON l.account_id = a.id"
            " GROUP BY a.id, a.posted_minor"
            f" HAVING a.posted_minor <> COALESCE(SUM({_SIGNED}), 0)"
            " ORDER BY a.id LIMIT 1"
        ),
        lambda r: (
            f"account {r.account_id} stores {r.stored} but its lines sum to {int(r.computed)}"
        ),
    ),
    "balance_chains": (
        text(
            "SELECT account_id, account_seq FROM ("
            f"  SELECT l.account_id, l.account_seq, l.balance_after_minor, {_SIGNED} AS signed,"
            "   LAG(l.balance_after_minor, 1, 0) OVER w AS previous_balance,"
            "   LAG(l.account_seq, 1, 0) OVER w AS previous_seq"
            "  FROM journal_lines l JOIN accounts a ON a.id = l.account_id"
            "  WINDOW w AS (PARTITION BY l.account_id ORDER BY l.account_seq)"
            " ) chain"
            " WHERE balance_after_minor <> previous_balance + signed"
            "    OR account_seq <> previous_seq + 1"
            " UNION ALL"
            " SELECT a.id, a.line_seq FROM accounts a"
            " WHERE a.line_seq <> COALESCE("
            "   (SELECT MAX(l.account_seq) FROM journal_lines l WHERE l.account_id = a.id), 0)"
            " ORDER BY account_id, account_seq LIMIT 1"
        ),
        lambda r: f"the balance chain of account {r.account_id} breaks at line {r.account_seq}",
    ),
    "held_totals": (
        text(
            "SELECT a.id AS account_id, a.held_minor AS stored,"
            " COALESCE(SUM(h.amount_minor), 0) AS computed"
            " FROM accounts a LEFT JOIN holds h ON h.account_id = a.id AND h.status = 'active'"
            " GROUP BY a.id, a.held_minor"
            " HAVING a.held_minor <> COALESCE(SUM(h.amount_minor), 0)"
            " ORDER BY a.id LIMIT 1"
        ),
        lambda r: (
            f"account {r.account_id} holds {r.stored} but its active holds sum to {int(r.computed)}"
        ),
    ),
    "credit_line_balances": (
        text(
            "SELECT c.id AS credit_line_id FROM credit_lines c"
            " LEFT JOIN credit_line_movements m ON m.credit_line_id = c.id"
            " GROUP BY c.id, c.principal_minor, c.interest_minor, c.fees_minor"
            " HAVING c.principal_minor <> COALESCE(SUM(m.principal_minor), 0)"
            " OR c.interest_minor <> COALESCE(SUM(m.interest_minor), 0)"
            " OR c.fees_minor <> COALESCE(SUM(m.fees_minor), 0)"
            " ORDER BY c.id LIMIT 1"
        ),
        lambda r: f"credit line {r.credit_line_id} owes other than its movements add up to",
    ),
    "credit_line_entries": (
        text(
            "SELECT entry_id FROM ("
            "  SELECT l.entry_id, CASE WHEN l.side = 'D' THEN l.amount_minor"
            "   ELSE -l.amount_minor END AS ledger_minor, 0 AS subledger_minor"
            "  FROM journal_lines l JOIN accounts a ON a.id = l.account_id"
            "  WHERE a.kind = 'gl' AND a.code = '1300'"
            "  UNION ALL"
            "  SELECT entry_id, 0, principal_minor + interest_minor + fees_minor"
            "  FROM credit_line_movements"
            " ) sides GROUP BY entry_id"
            " HAVING SUM(ledger_minor) <> SUM(subledger_minor) ORDER BY entry_id LIMIT 1"
        ),
        lambda r: (
            f"journal entry {r.entry_id} moves credit lines receivable by other than"
            " its credit-line movements"
        ),
    ),
    "loan_principal": (
        text(
            "SELECT loan_id, ledger, outstanding FROM ("
            "  SELECT l.id AS loan_id, a.posted_minor AS ledger,"
            "   CASE WHEN l.status IN ('written_off', 'closed') THEN 0"
            "   ELSE COALESCE(i.outstanding, 0) END AS outstanding"
            "  FROM loans l JOIN accounts a ON a.id = l.account_id"
            "  LEFT JOIN (SELECT loan_id,"
            "    SUM(principal_minor - principal_paid_minor) AS outstanding"
            "    FROM loan_installments GROUP BY loan_id) i ON i.loan_id = l.id"
            " ) loan_balances WHERE ledger <> outstanding"
            " ORDER BY loan_id LIMIT 1"
        ),
        lambda r: (
            f"loan {r.loan_id}'s ledger account holds {r.ledger}"
            f" but its installments have {int(r.outstanding)} outstanding"
        ),
    ),
    "loan_receivables": (
        text(
            "SELECT a.currency, a.code, a.posted_minor AS ledger, COALESCE(owed.minor, 0) AS owed"
            " FROM accounts a LEFT JOIN ("
            "  SELECT l.currency, '1210' AS code, SUM(CASE WHEN i.interest_billed_on IS NULL"
            "   THEN 0 ELSE i.interest_minor - i.interest_paid_minor END) AS minor"
            "  FROM loans l JOIN loan_installments i ON i.loan_id = l.id"
            "  WHERE l.status IN ('active', 'delinquent', 'paid_off') GROUP BY l.currency"
            "  UNION ALL"
            "  SELECT l.currency, '1220', SUM(i.penalty_minor - i.penalty_paid_minor)"
            "  FROM loans l JOIN loan_installments i ON i.loan_id = l.id"
            "  WHERE l.status IN ('active', 'delinquent', 'paid_off') GROUP BY l.currency"
            " ) owed ON owed.currency = a.currency AND owed.code = a.code"
            " WHERE a.kind = 'gl' AND a.code IN ('1210', '1220')"
            " AND a.posted_minor <> COALESCE(owed.minor, 0)"
            " ORDER BY a.currency, a.code LIMIT 1"
        ),
        lambda r: (
            f"GL {r.code} in {r.currency} holds {r.ledger} but the loans owe {int(r.owed)} on it"
        ),
    ),
}

_AUDIT_HEADS = text("SELECT shard, seq, head_hash FROM audit_chain_heads ORDER BY shard")
_AUDIT_RECORDS = text(
    "SELECT shard, seq, payload, hash FROM audit_events WHERE shard = :shard ORDER BY seq"
)
_COUNTS = text(
    "SELECT (SELECT COUNT(*) FROM accounts) AS accounts,"
    " (SELECT COUNT(*) FROM journal_entries) AS entries,"
    " (SELECT COUNT(*) FROM journal_lines) AS lines,"
    " (SELECT COUNT(*) FROM audit_events) AS audit_records"
)


@dataclass(frozen=True, slots=True)
class Violation:
    check: str
    detail: str


@dataclass(slots=True)
class VerificationReport:
    checks: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations


CHECK_NAMES = (*_CHECKS, "audit_chain")


QUICK_CHECKS = ("currency_totals",)
"""Cheap enough to run every few minutes on a live ledger: it reads the accounts only."""


async def verify_ledger(
    storage: Storage, checks: Sequence[str] = CHECK_NAMES
) -> VerificationReport:
    """Run ``checks`` (all of them by default) in one snapshot."""
    report = VerificationReport()
    async with storage.snapshot() as conn:
        counts = (await conn.execute(_COUNTS)).one()
        report.counts = dict(counts._mapping)
        for name, (query, describe) in _CHECKS.items():
            if name not in checks:
                continue
            report.checks.append(name)
            row = (await conn.execute(query)).first()
            if row is not None:
                report.violations.append(Violation(name, describe(row)))
        if "audit_chain" in checks:
            report.checks.append("audit_chain")
            audit_break = await _first_audit_break(conn)
            if audit_break is not None:
                report.violations.append(Violation("audit_chain", audit_break))
    return report


async def _first_audit_break(conn: AsyncConnection) -> str | None:
    heads = (await conn.execute(_AUDIT_HEADS)).all()
    for head in heads:
        rows = await conn.stream(_AUDIT_RECORDS, {"shard": head.shard})
        records = [
            StoredAuditRecord(row.shard, row.seq, row.payload, bytes(row.hash))
            async for row in rows
        ]
        problem = first_break(head.shard, records, head.seq, bytes(head.head_hash))
        if problem is not None:
            return problem
    return None
