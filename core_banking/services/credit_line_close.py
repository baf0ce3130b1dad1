"""Credit lines at the close of business: a day's interest, then overdue minimums and
statements.

``credit_line_interest`` accrues, for business date D, one day's interest on every open
line's balance at the close of D, at the configured precision (set-based SQL, exact
decimals; storage/credit_lines.py). ``credit_line_statements`` first marks the statements
whose due date closed on D with the minimum unpaid as overdue and charges each its late fee
once (lines locked, then the fees posted, in a transaction per batch), then cuts the
statement of every line whose statement date is D (a late fee charged on D is on it): the period's
accrued interest billed in whole minor units (the residue carried), the minimum payment and
the due date set. The late fees and the interest of a batch are posted as one journal entry
per currency (debit 1300 credit lines receivable, credit penalty or interest income), each
line's share of it recorded as a movement of its subledger.

Both steps work in batches of at most ``batch_size`` lines, one transaction each, which
record what they did (accrual rows and the line's accrued-through date; statement rows and
the line's next period; overdue statements with their fee's entry), so a second run of the
same date does only what is left.
"""

from __future__ import annotations

import calendar
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Final
from uuid import UUID

from core_banking.domain.accounts import Side
from core_banking.domain.chart import GLCode
from core_banking.domain.commands import RequestContext
from core_banking.domain.ids import uuid7
from core_banking.domain.ledger import Channel, EntryType, PostingRequest
from core_banking.domain.lending.day_count import DayCount, day_count_days
from core_banking.domain.money import Money
from core_banking.ports import Clock, LedgerStore, ProgressReport, UnitOfWork
from core_banking.services.auditing import audit_record
from core_banking.services.postings import gl_leg

BATCH_SIZE: Final = 1000
"""Lines per transaction."""
CLOSE_OF_BUSINESS: Final = RequestContext(actor="system:close_of_business")

type _Batch = Callable[[UnitOfWork, date], Awaitable[int]]
"""One batch's work in its transaction: how many lines it took."""


def day_fractions(day: date) -> dict[DayCount, tuple[int, int]]:
    """Each convention's year fraction of ``day`` (to the next day): (days, days a year)."""
    return {
        convention: (
            day_count_days(convention, day, day + timedelta(days=1)),
            convention.days_in_year,
        )
        for convention in DayCount
    }


def statement_days_on(day: date) -> list[int]:
    """The ``statement_day`` values whose statement falls on ``day``: its own day of the
    month, and on a month's last day every later day the month lacks (a line cut on the
    31st is cut on 30 April)."""
    last = calendar.monthrange(day.year, day.month)[1]
    return list(range(day.day, 32)) if day.day == last else [day.day]


class CreditLineInterestStep:
    name = "credit_line_interest"

    def __init__(
        self, store: LedgerStore, clock: Clock, precision: int, *, batch_size: int = BATCH_SIZE
    ) -> None:
        if batch_size < 1:
            raise ValueError("a batch accrues at least one line")
        self._store = store
        self._clock = clock
        self._precision = precision
        self._batch_size = batch_size

    async def run(self, business_date: date, report: ProgressReport) -> int:
        fractions = day_fractions(business_date)
        done = 0
        while True:
            batch = await self._store.atomically(
                lambda uow: uow.credit_lines.accrue(
                    business_date, fractions, self._precision, self._clock.now(), self._batch_size
                )
            )
            done += batch
            report(done, done)
            if batch < self._batch_size:
                return done


class CreditLineStatementsStep:
    name = "credit_line_statements"

    def __init__(
        self,
        store: LedgerStore,
        clock: Clock,
        *,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        if batch_size < 1:
            raise ValueError("a batch takes at least one line")
        self._store = store
        self._clock = clock
        self._batch_size = batch_size

    async def run(self, business_date: date, report: ProgressReport) -> int:
        """Overdue minimums first, so that a late fee charged on a statement date is on that
        statement; then the statements. The lines marked overdue plus the statements cut."""
        overdue = await self._in_batches(self._overdue_batch, business_date, report, 0)
        return await self._in_batches(self._statement_batch, business_date, report, overdue)

    async def _in_batches(
        self, work: _Batch, business_date: date, report: ProgressReport, done: int
    ) -> int:
        while True:
            batch = await self._store.atomically(lambda uow: work(uow, business_date))
            done += batch
            report(done, done)
            if batch < self._batch_size:
                return done

    async def _overdue_batch(self, uow: UnitOfWork, business_date: date) -> int:
        """Up to a batch of lines with a minimum unpaid when its due date closed: their
        statements overdue, the late fees posted (the lines locked first, then the
        general-ledger accounts: the order a draw or payment takes them in too)."""
        now = self._clock.now()
        overdue = await uow.credit_lines.mark_overdue(business_date, now, self._batch_size)
        for code, total_minor in await uow.credit_lines.unposted_late_fees():
            entry_id = await self._post(
                uow,
                EntryType.CREDIT_LINE_LATE_FEES,
                GLCode.PENALTY_INCOME,
                code,
                total_minor,
                business_date,
            )
            await uow.credit_lines.attach_late_fees(code, entry_id, business_date, now)
        return overdue

    async def _statement_batch(self, uow: UnitOfWork, business_date: date) -> int:
        """Up to a batch of lines' statements, and their interest posted."""
        now = self._clock.now()
        cut = await uow.credit_lines.cut_statements(
            business_date, statement_days_on(business_date), now, self._batch_size
        )
        for code, total_minor in await uow.credit_lines.unposted_interest(business_date):
            entry_id = await self._post(
                uow,
                EntryType.CREDIT_LINE_INTEREST,
                GLCode.INTEREST_INCOME,
                code,
                total_minor,
                business_date,
            )
            await uow.credit_lines.attach_interest(code, entry_id, business_date)
        return cut

    async def _post(
        self,
        uow: UnitOfWork,
        entry_type: EntryType,
        income: GLCode,
        code: str,
        total_minor: int,
        business_date: date,
    ) -> UUID:
        """One entry dated the business date closed: debit credit lines receivable, credit
        ``income``, in one currency. No idempotency claim: the statements that record the
        entry, written in the same transaction, are what say it was posted."""
        amount = Money.of(total_minor, code)
        legs = (
            gl_leg(GLCode.CREDIT_LINES_RECEIVABLE, Side.DEBIT, amount),
            gl_leg(income, Side.CREDIT, amount),
        )
        request = PostingRequest(
            entry_id=uuid7(),
            entry_type=entry_type,
            legs=legs,
            business_date=business_date,
            value_date=business_date,
            actor=CLOSE_OF_BUSINESS.actor,
            limits={},  # general-ledger legs: no funds or daily limit to check
            channel=Channel.SYSTEM,
        )
        audit = audit_record(
            CLOSE_OF_BUSINESS,
            self._clock.now(),
            f"ledger.{entry_type.value}",
            "journal_entry",
            request.entry_id,
            {
                "business_date": business_date.isoformat(),
                "legs": [
                    [str(leg.account_id), leg.side.value, leg.amount_minor, leg.currency]
                    for leg in legs
                ],
            },
        )
        result = await uow.ledger.post(request, None, audit)
        return result.entry.id
