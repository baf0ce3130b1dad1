"""The close of business's loan step (``loans_due``): interest falling due, installments
falling due, days past due and delinquency, and late fees, for one business date.

1. Interest billing, in bounded batches of loans (one transaction each, the loans locked as a
   repayment locks its loan): the unpaid interest of every installment due by the date and
   not billed yet becomes interest receivable, one entry per currency (debit interest
   receivable, credit interest income); the installments are marked billed that day.
2. One transaction, two set-based statements (storage/loans.py): every active or delinquent
   loan's days past due are counted from its oldest installment left unpaid before the date,
   and it is ``delinquent`` from the first day late, ``active`` again once caught up (the
   rules of domain/lending/delinquency.py); every unpaid installment due by the date becomes
   ``due`` (on its date) or ``overdue`` (after it).
3. Late fees, in bounded batches (one transaction each): overdue installments with
   principal or interest unpaid and no late fee yet; those more than the product's
   ``late_fee_grace_days`` past due are charged the product's late fee, once each. Each batch
   posts one balanced entry per currency (debit fees receivable, credit penalty income) and
   adds each fee to its installment's penalty, which a repayment then pays (crediting fees
   receivable) or a write-off moves to the loss account.

Safe to run again for the same date after a crash: a batch of billed interest or late fees
marks its installments in the transaction that posts them, so a second run does only what the
first did not commit, and the statements of step 2 give the same result twice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from functools import partial
from typing import Final
from uuid import UUID

from core_banking.domain.chart import GLCode
from core_banking.domain.commands import RequestContext
from core_banking.domain.errors import InvariantViolation
from core_banking.domain.ids import uuid7
from core_banking.domain.ledger import Channel, EntryType, PostingRequest
from core_banking.domain.lending.allocation import AmountsDue
from core_banking.domain.lending.delinquency import assess_late_fees
from core_banking.domain.lending.loan_products import TermLoanProduct
from core_banking.ports import Clock, LateFeeCandidate, LedgerStore, ProgressReport, UnitOfWork
from core_banking.services.auditing import audit_record
from core_banking.services.loan_entries import LoanEntry

LATE_FEE_BATCH_SIZE: Final = 500
"""Installments considered per transaction."""
CLOSE_OF_BUSINESS: Final = RequestContext(actor="system:close_of_business")


class LoansDueStep:
    name = "loans_due"

    def __init__(
        self, store: LedgerStore, clock: Clock, *, batch_size: int = LATE_FEE_BATCH_SIZE
    ) -> None:
        if batch_size < 1:
            raise ValueError("a batch considers at least one installment")
        self._store = store
        self._clock = clock
        self._batch_size = batch_size

    async def run(self, business_date: date, report: ProgressReport) -> int:
        while True:
            loans = await self._store.atomically(
                partial(self._bill_batch, business_date=business_date)
            )
            if loans < self._batch_size:
                break
        fell_due = await self._store.atomically(lambda uow: self._age(uow, business_date))
        report(fell_due, fell_due)
        charged = 0
        after: tuple[UUID, int] | None = None
        while True:
            considered, fees, after = await self._store.atomically(
                partial(self._charge_batch, business_date=business_date, after=after)
            )
            charged += fees
            report(fell_due + charged, fell_due + charged)
            if considered < self._batch_size:
                return fell_due + charged

    async def _bill_batch(self, uow: UnitOfWork, business_date: date) -> int:
        """Bill the interest due of a batch of loans; the number of loans."""
        loan_ids = await uow.loans.loans_to_bill(business_date, self._batch_size)
        if not loan_ids:
            return 0
        await uow.loans.lock_all(loan_ids)
        for currency, unpaid_minor in await uow.loans.bill_interest(loan_ids, business_date):
            if unpaid_minor > 0:
                await self._post(
                    uow,
                    EntryType.LOAN_INTEREST_DUE,
                    (GLCode.INTEREST_RECEIVABLE, GLCode.INTEREST_INCOME),
                    business_date,
                    currency,
                    unpaid_minor,
                    {"batch_through": str(loan_ids[-1])},
                )
        return len(loan_ids)

    async def _age(self, uow: UnitOfWork, business_date: date) -> int:
        # loans before installments: the order a repayment takes them in
        await uow.loans.refresh_delinquency(business_date, self._clock.now())
        return await uow.loans.mark_due(business_date)

    async def _charge_batch(
        self, uow: UnitOfWork, business_date: date, after: tuple[UUID, int] | None
    ) -> tuple[int, int, tuple[UUID, int] | None]:
        """(installments considered, fees charged, the last installment considered).

        The candidates' loans are locked (as a repayment locks its loan) and the candidates
        read again, so a repayment committed meanwhile is seen and nothing it paid is
        charged."""
        first_read = await uow.loans.late_fee_candidates(business_date, after, self._batch_size)
        if not first_read:
            return 0, 0, after
        last = first_read[-1]
        through = (last.loan_id, last.installment_number)
        await uow.loans.lock_all({candidate.loan_id for candidate in first_read})
        candidates = [
            candidate
            for candidate in await uow.loans.late_fee_candidates(
                business_date, after, self._batch_size
            )
            if (candidate.loan_id, candidate.installment_number) <= through
        ]
        products: dict[tuple[UUID, int], TermLoanProduct] = {}
        fees: list[tuple[UUID, int, int]] = []
        by_currency: dict[str, int] = defaultdict(int)
        for candidate in candidates:
            version = (candidate.product_id, candidate.product_version)
            if version not in products:
                products[version] = await _product(uow, *version)
            amount = _late_fee(products[version], candidate, business_date)
            if amount > 0:
                fees.append((candidate.loan_id, candidate.installment_number, amount))
                by_currency[candidate.currency] += amount
        for currency, total in sorted(by_currency.items()):
            await self._post(
                uow,
                EntryType.LOAN_LATE_FEES,
                (GLCode.FEES_RECEIVABLE, GLCode.PENALTY_INCOME),
                business_date,
                currency,
                total,
                {"batch_through": {"loan_id": str(through[0]), "installment": through[1]}},
            )
        await uow.loans.charge_late_fees(fees, business_date)
        return len(first_read), len(fees), through

    async def _post(
        self,
        uow: UnitOfWork,
        entry_type: EntryType,
        accounts: tuple[GLCode, GLCode],
        business_date: date,
        currency: str,
        total_minor: int,
        metadata: dict[str, object],
    ) -> None:
        """One entry for a batch in ``currency`` (debit the first account, credit the
        second), dated the business date being closed; each installment's share is on the
        installment."""
        now = self._clock.now()
        await uow.accounts.ensure_chart(currency, now)
        entry_id = uuid7()
        debited, credited = accounts
        entry = LoanEntry(currency)
        entry.debit_gl(debited, total_minor)
        entry.credit_gl(credited, total_minor)
        request = PostingRequest(
            entry_id=entry_id,
            entry_type=entry_type,
            legs=entry.legs(),
            business_date=business_date,
            value_date=business_date,
            actor=CLOSE_OF_BUSINESS.actor,
            limits={},
            channel=Channel.SYSTEM,
            metadata=metadata,
        )
        audit = audit_record(
            CLOSE_OF_BUSINESS,
            now,
            f"ledger.{entry_type.value}",
            "journal_entry",
            entry_id,
            {"business_date": business_date.isoformat(), "amount_minor": total_minor},
        )
        await uow.ledger.post(request, None, audit)


def _late_fee(product: TermLoanProduct, candidate: LateFeeCandidate, business_date: date) -> int:
    """The product's late fee on the installment, once its grace days have passed (0 when
    they have not, or the product charges none)."""
    if product.late_fee is None:
        return 0
    due = AmountsDue(
        installment_number=candidate.installment_number,
        due_date=candidate.due_date,
        fees_minor=0,
        penalties_minor=0,
        interest_minor=0,
        principal_minor=candidate.unpaid_minor,
    )
    assessed = assess_late_fees(
        [due], business_date, product.late_fee_grace_days, product.late_fee, ()
    )
    return sum(fee.amount_minor for fee in assessed)


async def _product(uow: UnitOfWork, product_id: UUID, version: int) -> TermLoanProduct:
    record = await uow.products.get(product_id, version)
    if record is None or not isinstance(record.product, TermLoanProduct):
        raise InvariantViolation("a loan names a missing product version", product_id=product_id)
    return record.product
