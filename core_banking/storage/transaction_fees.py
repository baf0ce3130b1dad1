"""Deposit transaction fees in SQL: the daily charge per fee-bearing debit, set-based.

The charge itself (chunks, funds, entries, waivers, audit) is storage/deposit_fees.py's;
this module says who is due, for how many debits, and records the day.

**The charge for business date D.** Due: every deposit account that is not closed, opened
from a product version whose per-transaction fee is above zero, with at least one
fee-bearing debit of D (a journal line debiting it in an entry of business date D whose
type is in ``FEE_BEARING_ENTRY_TYPES``: withdrawals, transfers out, captured holds) and no
row in ``deposit_transaction_fees`` for D yet. It owes the fee once per such line. Charged
in one journal entry of type ``transaction_fee`` (its reference and metadata name the day
and the debits) where the available funds cover it, else waived (``insufficient_funds``).
Either way the account's day is recorded in the same transaction as its entry, so a rerun
finds nothing due.

The debits are counted from D's entries (``ix_journal_entries_business_date``), then their
lines by primary key, restricted to the chunk's accounts: each chunk reads D's entries, not
the journal's history.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from core_banking.domain.ledger import FEE_BEARING_ENTRY_TYPES, EntryType
from core_banking.ports import ProgressReport
from core_banking.storage.base import Storage
from core_banking.storage.deposit_fees import FEE_ACCOUNTS, IN_CHUNK, FeeCharge, charge_fees

_FEE_BEARING: Final = ", ".join(f"'{kind.value}'" for kind in sorted(FEE_BEARING_ENTRY_TYPES))

_TRANSACTION_FEE: Final = FeeCharge(
    due_from=f"""{FEE_ACCOUNTS}
      JOIN (SELECT l.account_id, COUNT(*) AS debits
              FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id
             WHERE e.business_date = :day AND e.entry_type IN ({_FEE_BEARING})
               AND l.side = 'D' AND l.account_id > :after AND l.account_id <= :upto
             GROUP BY l.account_id) c ON c.account_id = a.id
      LEFT JOIN deposit_transaction_fees t ON t.account_id = a.id AND t.business_date = :day
     WHERE {IN_CHUNK}
       AND f.transaction_fee_minor > 0
       AND t.account_id IS NULL
""",
    unit_fee="f.transaction_fee_minor",
    units="c.debits",
    table="deposit_transaction_fees",
    columns={"business_date": ":day", "debits": "units"},
    entry_type=EntryType.TRANSACTION_FEE,
    audit_action="transaction_fees.charged",
    what="a transaction fee",
    reference="CAST(:reference AS varchar(140)) || CAST(d.units AS varchar(20)) || ' debits'",
    metadata={
        "postgresql": "jsonb_build_object('business_date', CAST(:day AS date), 'debits', d.units)",
        "sqlite": "json_object('business_date', :day, 'debits', d.units)",
    },
)


class SqlTransactionFees:
    """The transaction fee book on either database (implements
    ``ports.TransactionFeeBook``)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def charge(self, business_date: date, report: ProgressReport) -> int:
        """Charge (or waive) the fees of ``business_date``'s debits on every account due;
        returns the accounts settled, charged or waived (none for a date already done)."""
        return await charge_fees(
            self._storage,
            _TRANSACTION_FEE,
            business_date,
            {"reference": f"transaction fees {business_date.isoformat()}, "},
            {},
            report,
        )
