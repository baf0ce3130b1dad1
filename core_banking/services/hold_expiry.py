"""The close of business's first step: expire the holds that run out by the end of the
business date.

A hold whose expiry time falls before midnight (UTC) at the end of business date D is
expired when D closes, and its amount returns to the account's available balance. The
work goes in bounded batches, each one transaction that expires the holds, lowers their
accounts' held totals (set-based: storage/hold_expiry.py) and writes one ``holds.expired``
audit event naming each hold and its account: the same record as the hold service's own
sweep, so the event relay announces a ``hold.expired`` event per hold either way.

Safe to run again after a crash: a committed batch changed its holds to expired, which is
what says it was done; a batch that did not commit changed nothing; the next run finds
only the holds still due.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from core_banking.domain.close_of_business import ONE_DAY
from core_banking.domain.commands import RequestContext
from core_banking.domain.ids import uuid7
from core_banking.ports import Clock, LedgerStore, ProgressReport, UnitOfWork
from core_banking.services.auditing import audit_record

EXPIRY_BATCH_SIZE = 1000
"""Holds expired per transaction."""
CLOSE_OF_BUSINESS = RequestContext(actor="system:close_of_business")
"""Who the audit trail names for the holds the close of business expires."""


def end_of(business_date: date) -> datetime:
    """The first moment after ``business_date``: midnight UTC starting the next day."""
    return datetime.combine(business_date + ONE_DAY, time.min, tzinfo=UTC)


class ExpireHoldsStep:
    """Expire every active hold whose expiry time is before the end of the business date."""

    name = "expire_holds"

    def __init__(
        self, store: LedgerStore, clock: Clock, *, batch_size: int = EXPIRY_BATCH_SIZE
    ) -> None:
        if batch_size < 1:
            raise ValueError("a batch expires at least one hold")
        self._store = store
        self._clock = clock
        self._batch_size = batch_size

    async def run(self, business_date: date, report: ProgressReport) -> int:
        cutoff = end_of(business_date)
        due = await self._store.read(lambda uow: uow.hold_expiry.count_due(cutoff))
        report(0, due)
        done = 0
        while True:
            batch = await self._store.atomically(
                lambda uow: self._expire_batch(uow, business_date, cutoff)
            )
            done += batch
            report(done, max(due, done))
            if batch < self._batch_size:
                return done

    async def _expire_batch(self, uow: UnitOfWork, business_date: date, cutoff: datetime) -> int:
        now = self._clock.now()
        expired = await uow.hold_expiry.expire_before(cutoff, now, self._batch_size)
        if expired:
            await uow.audit.append(
                audit_record(
                    CLOSE_OF_BUSINESS,
                    now,
                    "holds.expired",
                    "hold_batch",
                    uuid7(),
                    {
                        "business_date": business_date.isoformat(),
                        "holds": [
                            {"hold_id": str(hold.id), "account_id": str(hold.account_id)}
                            for hold in expired
                        ],
                    },
                )
            )
        return len(expired)
