"""Deposit maintenance fees in SQL: the month-end charge, set-based.

The charge itself (chunks, funds, entries, waivers, audit) is storage/deposit_fees.py's;
this module says who is due and records the month.

**The charge for the month of D.** Due: every deposit account that is not closed, opened
from a product version whose monthly maintenance fee is above zero, with no row in
``deposit_maintenance_fees`` for the month yet; it owes the fee once. Charged in one
journal entry of type ``maintenance_fee`` where the available funds cover it, else waived
(``insufficient_funds``). Either way the account's month is recorded in the same
transaction as its entry, so a rerun finds nothing due.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from core_banking.domain.ledger import EntryType
from core_banking.ports import ProgressReport
from core_banking.storage.base import Storage
from core_banking.storage.deposit_fees import (
    FEE_ACCOUNTS,
    IN_CHUNK,
    FeeCharge,
    charge_fees,
)

_MAINTENANCE_FEE: Final = FeeCharge(
    due_from=f"""{FEE_ACCOUNTS}
      LEFT JOIN deposit_maintenance_fees m ON m.account_id = a.id AND m.month = :month
     WHERE {IN_CHUNK}
       AND f.monthly_maintenance_fee_minor > 0
       AND m.account_id IS NULL
""",
    unit_fee="f.monthly_maintenance_fee_minor",
    units="1",
    table="deposit_maintenance_fees",
    columns={"month": ":month", "business_date": ":day"},
    entry_type=EntryType.MAINTENANCE_FEE,
    audit_action="maintenance_fees.charged",
    what="a maintenance fee",
)


class SqlMaintenanceFees:
    """The maintenance fee book on either database (implements ``ports.MaintenanceFeeBook``)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def charge(self, business_date: date, month: date, report: ProgressReport) -> int:
        """Charge (or waive) ``month``'s fee on every account due on ``business_date``;
        returns the accounts settled, charged or waived (none for a month already done)."""
        return await charge_fees(
            self._storage,
            _MAINTENANCE_FEE,
            business_date,
            {"month": month, "reference": f"maintenance fee {month:%Y-%m}"},
            {"month": month.isoformat()},
            report,
        )
