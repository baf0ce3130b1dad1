"""Deposit transaction fees: the daily close-of-business step.

Every business date is a fee day: the step charges each account the fee of the debits it
made that day; the storage does the set-based work over every account
(docs/close-of-business.md).
"""

from __future__ import annotations

from datetime import date
from typing import Final

from core_banking.ports import ProgressReport, TransactionFeeBook

TRANSACTION_FEE_STEP: Final = "deposit_transaction_fees"


class DepositTransactionFees:
    """Close-of-business step: each deposit account's per-transaction fees of the day."""

    name = TRANSACTION_FEE_STEP

    def __init__(self, book: TransactionFeeBook) -> None:
        self._book = book

    async def run(self, business_date: date, report: ProgressReport) -> int:
        return await self._book.charge(business_date, report)
