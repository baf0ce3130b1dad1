"""Loans: origination, maker-checker approval, disbursement, repayments, prepayments,
payoff quotes, write-offs, and reading them.

Every command that moves money is one database transaction: it claims its idempotency key,
locks the loan (always before any account: the posting then locks its accounts in id
order), posts one balanced entry through the ledger, and writes the loan's installments and
state beside it. After posting it reads the loan's ledger account back and refuses to commit
unless its balance is exactly the principal outstanding by the installments (the invariant
of docs/adr/0008-loan-ledger-accounts.md, checked in pairs with the rows that say it).

Which general-ledger account each part of a payment goes to (docs/loans.md):

    principal      the loan's own account (kind ``loan``, an asset)
    interest       interest receivable once billed (when its installment fell due: the close
                   of business), interest income when paid before that
    penalties      fees receivable (late fees were charged there by the close of business)
    fees           fee income (the early repayment fee)
    overpayment    loan credit balances (2200), kept for the borrower when the product says so
    written off    loan loss expense (principal, billed interest and late fees unpaid)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Final
from uuid import UUID

from core_banking.domain.accounts import (
    Account,
    AccountKind,
    AccountStatus,
    AccountType,
)
from core_banking.domain.chart import GLCode
from core_banking.domain.commands import RequestContext
from core_banking.domain.customers import CustomerStatus
from core_banking.domain.errors import (
    CurrencyMismatch,
    InvalidInput,
    InvalidTransition,
    InvariantViolation,
    NotFound,
    RuleViolation,
    WrongAccountKind,
)
from core_banking.domain.ids import uuid7
from core_banking.domain.ledger import Channel, EntryType, JournalEntry
from core_banking.domain.lending.allocation import Component, allocate_payment
from core_banking.domain.lending.catalog import ProductRecord
from core_banking.domain.lending.delinquency import delinquency_status
from core_banking.domain.lending.errors import ProductNotActive, WrongProductKind
from core_banking.domain.lending.loan_products import TermLoanProduct
from core_banking.domain.lending.loan_status import (
    LoanStatus,
    check_approval,
    check_loan_transition,
)
from core_banking.domain.lending.loans import (
    Installment,
    Loan,
    LoanPayoff,
    apply_allocation,
    first_due_after,
    installments_of,
    loan_days_past_due,
    loan_payoff,
    loan_terms,
    payable_dues,
    receivable_interest_paid,
    settled_in_full,
    stored_schedule,
    unpaid_billed_interest,
)
from core_banking.domain.lending.prepayment import apply_prepayment
from core_banking.domain.lending.products import ProductStatus
from core_banking.domain.lending.schedule import Prepayment, Schedule, generate_schedule
from core_banking.domain.money import Money
from core_banking.domain.policy import BusinessPolicy
from core_banking.ports import Clock, LedgerStore, LoanQuery, UnitOfWork
from core_banking.services.auditing import audit_record
from core_banking.services.loan_entries import LoanEntry
from core_banking.services.postings import PostingPreparer, claim_for

MAX_PAGE: Final = 100
MAX_REASON_LENGTH: Final = 500
_OPEN: Final = (LoanStatus.ACTIVE, LoanStatus.DELINQUENT)


# --- commands and results ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OriginateLoan:
    """An application: ``amount`` over ``installments`` under the product's active version,
    paid into (and repaid from) the customer's deposit account."""

    customer_id: UUID
    product_id: UUID
    deposit_account_id: UUID
    amount: Money
    installments: int
    first_due_date: date | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class DisburseLoan:
    loan_id: UUID
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class RepayLoan:
    """A repayment from the loan's deposit account: what is due, then the next installment."""

    loan_id: UUID
    amount: Money
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class PrepayLoan:
    """Principal repaid ahead of its schedule (``amount``), with the interest accrued on it
    and the product's early repayment fee."""

    loan_id: UUID
    amount: Money
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class PayOffLoan:
    """Repay the whole loan today, as its payoff quote for today says."""

    loan_id: UUID
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class WriteOffLoan:
    loan_id: UUID
    reason: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class LoanOperation:
    """A money-moving command's outcome: the loan after it and the entry it posted
    (``replayed`` when an idempotent retry found them)."""

    loan: Loan
    entry: JournalEntry
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class LoanSchedule:
    loan: Loan
    installments: tuple[Installment, ...]


# --- the service ------------------------------------------------------------------------------


class LoanService:
    def __init__(self, store: LedgerStore, clock: Clock, policy: BusinessPolicy) -> None:
        self._store = store
        self._clock = clock
        self._preparer = PostingPreparer(clock, policy)

    async def originate(self, command: OriginateLoan, context: RequestContext) -> Loan:
        """A pending application under the product's active term loan version, for an
        amount and a number of installments within its ranges."""
        loan_id = uuid7()
        claim = (
            claim_for("loan_originate", command, context, loan_id)
            if command.idempotency_key is not None
            else None
        )

        async def work(uow: UnitOfWork) -> Loan:
            now = self._clock.now()
            if claim is not None:
                existing = await uow.idempotency.claim(claim, now)
                if existing is not None:
                    return await _loan(uow, existing)
            await uow.products.lock(command.product_id, shared=True)
            product = _term_loan(await uow.products.active(command.product_id))
            code = command.amount.currency.code
            if product.currency.code != code:
                raise CurrencyMismatch(
                    f"the product lends {product.currency.code}, not {code}",
                    product_id=str(product.product_id),
                )
            product.check_application(command.amount.minor, command.installments)
            if command.first_due_date is not None and command.first_due_date <= self._clock.today():
                raise InvalidInput("the first due date is in the future", field="first_due_date")
            await _check_borrower(uow, command.customer_id, command.deposit_account_id, code)
            loan = Loan(
                id=loan_id,
                customer_id=command.customer_id,
                product_id=product.product_id,
                product_version=product.version,
                currency=code,
                principal_minor=command.amount.minor,
                annual_rate=product.annual_rate,
                installments=command.installments,
                frequency=product.frequency,
                method=product.method,
                status=LoanStatus.PENDING,
                deposit_account_id=command.deposit_account_id,
                created_by=context.actor,
                created_at=now,
                updated_at=now,
                first_due_date=command.first_due_date,
            )
            await uow.loans.insert(loan)
            await uow.audit.append(
                audit_record(
                    context,
                    now,
                    "loan.originated",
                    "loan",
                    loan.id,
                    {
                        "customer_id": str(loan.customer_id),
                        "product_id": str(loan.product_id),
                        "product_version": loan.product_version,
                        "principal_minor": loan.principal_minor,
                        "currency": code,
                        "installments": loan.installments,
                    },
                )
            )
            return loan

        return await self._store.atomically(work)

    async def approve(
        self,
        loan_id: UUID,
        context: RequestContext,
        approval_limit: Decimal | None,
    ) -> Loan:
        """Maker-checker: approved by someone other than its creator, whose roles may
        approve this much (``approval_limit`` in major units; None: no limit)."""

        async def work(uow: UnitOfWork) -> Loan:
            now = self._clock.now()
            loan = await uow.loans.lock(loan_id)
            check_loan_transition(loan.status, LoanStatus.APPROVED)
            check_approval(
                loan.created_by,
                context.actor,
                Money.of(loan.principal_minor, loan.currency),
                approval_limit,
            )
            approved = replace(
                loan,
                status=LoanStatus.APPROVED,
                decided_by=context.actor,
                decided_at=now,
                updated_at=now,
            )
            await uow.loans.save(approved)
            await uow.audit.append(audit_record(context, now, "loan.approved", "loan", loan.id))
            return approved

        return await self._store.atomically(work)

    async def reject(self, loan_id: UUID, reason: str, context: RequestContext) -> Loan:
        """Turn a pending application down, for a reason (final)."""
        reason = _reason(reason)

        async def work(uow: UnitOfWork) -> Loan:
            now = self._clock.now()
            loan = await uow.loans.lock(loan_id)
            check_loan_transition(loan.status, LoanStatus.REJECTED)
            rejected = replace(
                loan,
                status=LoanStatus.REJECTED,
                decided_by=context.actor,
                decided_at=now,
                rejection_reason=reason,
                updated_at=now,
            )
            await uow.loans.save(rejected)
            await uow.audit.append(
                audit_record(context, now, "loan.rejected", "loan", loan.id, {"reason": reason})
            )
            return rejected

        return await self._store.atomically(work)

    async def close(self, loan_id: UUID, context: RequestContext) -> Loan:
        """The final state: an approved loan never disbursed (cancelled), or a paid off or
        written off loan filed away. Nothing moves."""

        async def work(uow: UnitOfWork) -> Loan:
            now = self._clock.now()
            loan = await uow.loans.lock(loan_id)
            check_loan_transition(loan.status, LoanStatus.CLOSED)
            closed = replace(loan, status=LoanStatus.CLOSED, updated_at=now)
            await uow.loans.save(closed)
            await uow.audit.append(
                audit_record(
                    context, now, "loan.closed", "loan", loan.id, {"from": loan.status.value}
                )
            )
            return closed

        return await self._store.atomically(work)

    async def disburse(self, command: DisburseLoan, context: RequestContext) -> LoanOperation:
        """Pay an approved loan into its deposit account, in one entry (debit the loan's
        new ledger account, credit the deposit account), and store its schedule, computed
        from the product version the loan was opened under, from today."""
        entry_id = uuid7()
        claim = claim_for(EntryType.LOAN_DISBURSEMENT.value, command, context, entry_id)

        async def work(uow: UnitOfWork) -> LoanOperation:
            now, today = self._clock.now(), self._clock.today()
            existing = await uow.idempotency.claim(claim, now)
            if existing is not None:
                return await _replayed(uow, command.loan_id, existing)
            loan = await uow.loans.lock(command.loan_id)
            check_loan_transition(loan.status, LoanStatus.ACTIVE)
            product = await _product_of(uow, loan)
            first_due = loan.first_due_date or first_due_after(today, loan.frequency)
            schedule = generate_schedule(loan_terms(loan, product, today, first_due))
            await uow.accounts.ensure_chart(loan.currency, now)
            account = _loan_account(loan, now)
            await uow.accounts.insert(account)
            entry = LoanEntry(loan.currency)
            entry.debit(account.id, loan.principal_minor, AccountKind.LOAN)
            entry.credit(loan.deposit_account_id, loan.principal_minor, AccountKind.DEPOSIT)
            posted = await self._post(
                uow, EntryType.LOAN_DISBURSEMENT, entry, command, context, entry_id, loan
            )
            installments = installments_of(schedule.lines)
            await uow.loans.insert_installments(loan.id, installments)
            active = replace(
                loan,
                status=LoanStatus.ACTIVE,
                account_id=account.id,
                first_due_date=first_due,
                disbursed_on=today,
                maturity_date=schedule.maturity_date,
                disbursement_entry_id=entry_id,
                level_minor=schedule.level_minor,
                updated_at=now,
            )
            await uow.loans.save(active)
            await _check_ledger(uow, active, installments)
            return LoanOperation(active, posted)

        return await self._store.atomically(work)

    async def repay(self, command: RepayLoan, context: RequestContext) -> LoanOperation:
        """Take a repayment from the deposit account (with any credit kept from before) and
        allocate it in the product's order to what is due, then to the next installment.
        More than that is refused, or kept as a credit, as the product says; once the loan
        is paid off nothing is kept: the rest goes back to the deposit account."""
        entry_id = uuid7()
        claim = claim_for(EntryType.LOAN_REPAYMENT.value, command, context, entry_id)

        async def work(uow: UnitOfWork) -> LoanOperation:
            now, today = self._clock.now(), self._clock.today()
            existing = await uow.idempotency.claim(claim, now)
            if existing is not None:
                return await _replayed(uow, command.loan_id, existing)
            loan = await _open_loan(uow, command.loan_id, command.amount)
            product = await _product_of(uow, loan)
            installments = await uow.loans.installments(loan.id)
            allocation = allocate_payment(
                command.amount.minor + loan.credit_minor,
                payable_dues(installments, today),
                product.allocation_order,
                product.overpayment_policy,
            )
            updated = apply_allocation(installments, allocation, today)
            paid_off = all(installment.settled for installment in updated)
            credit = 0 if paid_off else allocation.credit_minor
            entry = LoanEntry(loan.currency)
            entry.debit(loan.deposit_account_id, command.amount.minor, AccountKind.DEPOSIT)
            entry.debit_gl(GLCode.LOAN_CREDITS, loan.credit_minor)
            entry.credit(
                _account_of(loan), allocation.total_of(Component.PRINCIPAL), AccountKind.LOAN
            )
            interest = allocation.total_of(Component.INTEREST)
            billed = receivable_interest_paid(installments, allocation)
            entry.credit_gl(GLCode.INTEREST_RECEIVABLE, billed)
            entry.credit_gl(GLCode.INTEREST_INCOME, interest - billed)
            entry.credit_gl(GLCode.FEES_RECEIVABLE, allocation.total_of(Component.PENALTIES))
            entry.credit_gl(GLCode.FEE_INCOME, allocation.total_of(Component.FEES))
            entry.credit_gl(GLCode.LOAN_CREDITS, credit)
            entry.credit(
                loan.deposit_account_id, allocation.credit_minor - credit, AccountKind.DEPOSIT
            )
            posted = await self._post(
                uow, EntryType.LOAN_REPAYMENT, entry, command, context, entry_id, loan
            )
            touched = {part.installment_number for part in allocation.parts}
            await uow.loans.save_installments(
                loan.id, [installment for installment in updated if installment.number in touched]
            )
            after = await self._after_payment(uow, loan, updated, today, credit)
            return LoanOperation(after, posted)

        return await self._store.atomically(work)

    async def prepay(self, command: PrepayLoan, context: RequestContext) -> LoanOperation:
        """Repay principal ahead of its schedule, with the interest accrued on it since the
        period began and the product's early repayment fee; the installments after today
        are scheduled again by the product's strategy (reduce the term or the installment).
        Refused while anything due is unpaid, or while an installment not yet due has been
        paid ahead, in part or whole (prepay after its due date then): the new schedule
        replaces the installments after today."""
        entry_id = uuid7()
        claim = claim_for(EntryType.LOAN_PREPAYMENT.value, command, context, entry_id)

        async def work(uow: UnitOfWork) -> LoanOperation:
            now, today = self._clock.now(), self._clock.today()
            existing = await uow.idempotency.claim(claim, now)
            if existing is not None:
                return await _replayed(uow, command.loan_id, existing)
            loan = await _open_loan(uow, command.loan_id, command.amount)
            product = await _product_of(uow, loan)
            installments = await uow.loans.installments(loan.id)
            _check_prepayable(installments, today)
            prepayments = await uow.loans.prepayments(loan.id)
            schedule = apply_prepayment(
                _schedule(loan, product, installments, prepayments),
                today,
                command.amount.minor,
                product.prepayment_strategy,
            )
            prepayment = schedule.prepayments[-1]
            fee_rule = product.early_repayment_fee
            fee = fee_rule.amount_on(prepayment.principal_minor) if fee_rule else 0
            entry = LoanEntry(loan.currency)
            entry.debit(
                loan.deposit_account_id,
                prepayment.principal_minor + prepayment.interest_minor + fee,
                AccountKind.DEPOSIT,
            )
            entry.credit(_account_of(loan), prepayment.principal_minor, AccountKind.LOAN)
            entry.credit_gl(GLCode.INTEREST_INCOME, prepayment.interest_minor)
            entry.credit_gl(GLCode.FEE_INCOME, fee)
            posted = await self._post(
                uow, EntryType.LOAN_PREPAYMENT, entry, command, context, entry_id, loan
            )
            kept = [installment for installment in installments if installment.due_date <= today]
            rescheduled = installments_of(schedule.lines[len(kept) :])
            await uow.loans.reschedule(loan.id, rescheduled)
            await uow.loans.insert_prepayment(loan.id, len(prepayments) + 1, prepayment, entry_id)
            after = replace(
                loan,
                maturity_date=schedule.maturity_date,
                level_minor=schedule.level_minor,
                updated_at=now,
            )
            await uow.loans.save(after)
            await _check_ledger(uow, after, [*kept, *rescheduled])
            return LoanOperation(after, posted)

        return await self._store.atomically(work)

    async def pay_off(self, command: PayOffLoan, context: RequestContext) -> LoanOperation:
        """Repay the loan in full today, by its payoff quote: the principal outstanding, the
        interest accrued in the current period (and grace interest deferred), what is
        overdue, the early repayment fee, less the borrower's credit. The installments not
        yet due become one installment due today; the loan is paid off."""
        entry_id = uuid7()
        claim = claim_for(EntryType.LOAN_PAYOFF.value, command, context, entry_id)

        async def work(uow: UnitOfWork) -> LoanOperation:
            now, today = self._clock.now(), self._clock.today()
            existing = await uow.idempotency.claim(claim, now)
            if existing is not None:
                return await _replayed(uow, command.loan_id, existing)
            loan = await uow.loans.lock(command.loan_id)
            if loan.status not in _OPEN:
                raise InvalidTransition(f"a {loan.status} loan has nothing to pay off")
            product = await _product_of(uow, loan)
            installments = await uow.loans.installments(loan.id)
            schedule = _schedule(loan, product, installments, await uow.loans.prepayments(loan.id))
            quote = loan_payoff(
                schedule, installments, today, product.early_repayment_fee, loan.credit_minor
            )
            entry = LoanEntry(loan.currency)
            entry.debit(loan.deposit_account_id, max(quote.total_minor, 0), AccountKind.DEPOSIT)
            entry.debit_gl(GLCode.LOAN_CREDITS, loan.credit_minor)
            entry.credit(_account_of(loan), quote.principal_minor, AccountKind.LOAN)
            # interest billed and unpaid settles the receivable; the rest (net of interest
            # paid ahead for days not run, which is taken back) is income
            receivable = unpaid_billed_interest(installments)
            paid_ahead = quote.credit_minor - loan.credit_minor
            income = quote.interest_minor - paid_ahead - receivable
            entry.credit_gl(GLCode.INTEREST_RECEIVABLE, receivable)
            entry.credit_gl(GLCode.INTEREST_INCOME, max(income, 0))
            entry.debit_gl(GLCode.INTEREST_INCOME, max(-income, 0))
            entry.credit_gl(GLCode.FEES_RECEIVABLE, quote.penalties_minor)
            entry.credit_gl(GLCode.FEE_INCOME, quote.early_repayment_fee_minor)
            entry.credit(loan.deposit_account_id, max(-quote.total_minor, 0), AccountKind.DEPOSIT)
            posted = await self._post(
                uow, EntryType.LOAN_PAYOFF, entry, command, context, entry_id, loan
            )
            settled = settled_in_full(schedule, installments, today)
            await uow.loans.reschedule(loan.id, settled)
            after = await self._after_payment(uow, loan, settled, today, 0)
            return LoanOperation(after, posted)

        return await self._store.atomically(work)

    async def write_off(self, command: WriteOffLoan, context: RequestContext) -> LoanOperation:
        """Move what a loan still owes to the loss account: its principal (its ledger
        account's balance) and its unpaid late fees. A credit kept for the borrower reduces
        the loss. The loan is ``written_off`` and its ledger account closed."""
        reason = _reason(command.reason)
        entry_id = uuid7()
        claim = claim_for(EntryType.LOAN_WRITE_OFF.value, command, context, entry_id)

        async def work(uow: UnitOfWork) -> LoanOperation:
            now, today = self._clock.now(), self._clock.today()
            existing = await uow.idempotency.claim(claim, now)
            if existing is not None:
                return await _replayed(uow, command.loan_id, existing)
            loan = await uow.loans.lock(command.loan_id)
            check_loan_transition(loan.status, LoanStatus.WRITTEN_OFF)
            installments = await uow.loans.installments(loan.id)
            principal = sum(installment.unpaid().principal_minor for installment in installments)
            penalties = sum(installment.unpaid().penalties_minor for installment in installments)
            interest = unpaid_billed_interest(installments)
            owed = principal + penalties + interest
            loss = max(0, owed - loan.credit_minor)
            entry = LoanEntry(loan.currency)
            entry.debit_gl(GLCode.LOAN_LOSS_EXPENSE, loss)
            entry.debit_gl(GLCode.LOAN_CREDITS, loan.credit_minor)
            entry.credit(_account_of(loan), principal, AccountKind.LOAN)
            entry.credit_gl(GLCode.FEES_RECEIVABLE, penalties)
            entry.credit_gl(GLCode.INTEREST_RECEIVABLE, interest)
            entry.credit(
                loan.deposit_account_id, loan.credit_minor + loss - owed, AccountKind.DEPOSIT
            )
            posted = await self._post(
                uow, EntryType.LOAN_WRITE_OFF, entry, command, context, entry_id, loan
            )
            written_off = replace(
                loan,
                status=LoanStatus.WRITTEN_OFF,
                closed_on=today,
                credit_minor=0,
                updated_at=now,
            )
            await uow.loans.save(written_off)
            await uow.accounts.set_status(_account_of(loan), AccountStatus.CLOSED, now)
            await uow.audit.append(
                audit_record(
                    context,
                    now,
                    "loan.written_off",
                    "loan",
                    loan.id,
                    {
                        "principal_minor": principal,
                        "interest_minor": interest,
                        "penalties_minor": penalties,
                        "reason": reason,
                    },
                )
            )
            return LoanOperation(written_off, posted)

        return await self._store.atomically(work)

    # --- reading --------------------------------------------------------------------------

    async def get(self, loan_id: UUID) -> Loan:
        return await self._store.read(lambda uow: _loan(uow, loan_id))

    async def schedule(self, loan_id: UUID) -> LoanSchedule:
        """The loan and its installments (none before disbursement)."""

        async def work(uow: UnitOfWork) -> LoanSchedule:
            loan = await _loan(uow, loan_id)
            return LoanSchedule(loan, tuple(await uow.loans.installments(loan_id)))

        return await self._store.read(work)

    async def payoff_quote(self, loan_id: UUID, as_of: date | None = None) -> LoanPayoff:
        """What repays the loan in full on ``as_of`` (today by default), if nothing else is
        paid before then: installments falling due by then count as due, unpaid."""

        async def work(uow: UnitOfWork) -> LoanPayoff:
            loan = await _loan(uow, loan_id)
            if loan.status not in _OPEN:
                raise InvalidTransition(f"a {loan.status} loan has nothing to pay off")
            on = as_of or self._clock.today()
            if loan.disbursed_on is None or on < loan.disbursed_on:
                raise InvalidInput("a payoff is quoted from the disbursement on", field="date")
            product = await _product_of(uow, loan)
            installments = await uow.loans.installments(loan_id)
            schedule = _schedule(loan, product, installments, await uow.loans.prepayments(loan_id))
            return loan_payoff(
                schedule, installments, on, product.early_repayment_fee, loan.credit_minor
            )

        return await self._store.read(work)

    async def list(self, query: LoanQuery) -> list[Loan]:
        bounded = replace(query, limit=min(max(query.limit, 1), MAX_PAGE))
        return await self._store.read_replica(lambda uow: uow.loans.search(bounded))

    # --- shared steps ---------------------------------------------------------------------

    async def _post(
        self,
        uow: UnitOfWork,
        entry_type: EntryType,
        entry: LoanEntry,
        command: DisburseLoan | RepayLoan | PrepayLoan | PayOffLoan | WriteOffLoan,
        context: RequestContext,
        entry_id: UUID,
        loan: Loan,
    ) -> JournalEntry:
        """Post the entry with its audit record, the loan named in its metadata. What a
        repayment, prepayment or payoff takes from the deposit account is a customer's
        transaction, within NEXUM_MAX_TRANSACTION_AMOUNT; a disbursement or write-off is the
        bank's own decision, bounded by the product and the approval limit instead."""
        paid_by_customer = entry.debited(loan.deposit_account_id)
        customer_amount = Money.of(paid_by_customer, loan.currency) if paid_by_customer else None
        prepared = self._preparer.prepare(
            entry_type,
            entry.legs(),
            command,
            context,
            Channel.API,
            amount=customer_amount,
            entry_id=entry_id,
            details={"loan_id": str(loan.id)},
        )
        request = replace(
            prepared.request, metadata={**prepared.request.metadata, "loan_id": str(loan.id)}
        )
        result = await uow.ledger.post(request, None, prepared.audit)
        return result.entry

    async def _after_payment(
        self,
        uow: UnitOfWork,
        loan: Loan,
        installments: Sequence[Installment],
        today: date,
        credit_minor: int,
    ) -> Loan:
        """The loan's state after a payment: paid off (its ledger account closed), or
        active or delinquent by its days past due."""
        now = self._clock.now()
        days = loan_days_past_due(installments, today)
        if all(installment.settled for installment in installments):
            status = LoanStatus.PAID_OFF
            await uow.accounts.set_status(_account_of(loan), AccountStatus.CLOSED, now)
        else:
            status = delinquency_status(loan.status, days)
        if status is not loan.status:
            check_loan_transition(loan.status, status)
        after = replace(
            loan,
            status=status,
            days_past_due=days,
            credit_minor=credit_minor,
            closed_on=today if status is LoanStatus.PAID_OFF else None,
            updated_at=now,
        )
        await uow.loans.save(after)
        await _check_ledger(uow, after, installments)
        return after


# --- helpers ----------------------------------------------------------------------------------


def _term_loan(record: ProductRecord | None) -> TermLoanProduct:
    if record is None:
        raise ProductNotActive("the product has no active version")
    product = record.product
    if not isinstance(product, TermLoanProduct):
        raise WrongProductKind(
            f"a {record.kind} product opens no loan", product_id=str(product.product_id)
        )
    if product.status is not ProductStatus.ACTIVE:
        raise ProductNotActive(f"version {product.version} of this product is {product.status}")
    return product


async def _product_of(uow: UnitOfWork, loan: Loan) -> TermLoanProduct:
    """The product version the loan was opened under, whatever its status is now."""
    record = await uow.products.get(loan.product_id, loan.product_version)
    if record is None or not isinstance(record.product, TermLoanProduct):
        raise InvariantViolation("a loan names a missing product version", loan_id=str(loan.id))
    return record.product


async def _check_borrower(
    uow: UnitOfWork, customer_id: UUID, deposit_account_id: UUID, currency_code: str
) -> None:
    customer = await uow.customers.get(customer_id)
    if customer is None:
        raise NotFound("no such customer", customer_id=str(customer_id))
    if customer.status is not CustomerStatus.ACTIVE:
        raise RuleViolation(f"customer is {customer.status}", customer_id=str(customer_id))
    account = await uow.accounts.get(deposit_account_id)
    if account is None:
        raise NotFound("no such account", account_id=str(deposit_account_id))
    if account.kind is not AccountKind.DEPOSIT or account.customer_id != customer_id:
        raise WrongAccountKind(
            "a loan is paid into a deposit account of its borrower",
            account_id=str(deposit_account_id),
        )
    if account.currency != currency_code:
        raise CurrencyMismatch(
            f"the account holds {account.currency}, not {currency_code}",
            account_id=str(deposit_account_id),
        )


async def _loan(uow: UnitOfWork, loan_id: UUID) -> Loan:
    loan = await uow.loans.get(loan_id)
    if loan is None:
        raise NotFound("no such loan", loan_id=str(loan_id))
    return loan


async def _open_loan(uow: UnitOfWork, loan_id: UUID, amount: Money) -> Loan:
    """The loan, locked, if it is active or delinquent and in ``amount``'s currency."""
    loan = await uow.loans.lock(loan_id)
    if loan.status not in _OPEN:
        raise InvalidTransition(f"a {loan.status} loan takes no payments", status=str(loan.status))
    if amount.currency.code != loan.currency:
        raise CurrencyMismatch(f"the loan is in {loan.currency}", loan_id=str(loan.id))
    return loan


async def _replayed(uow: UnitOfWork, loan_id: UUID, entry_id: UUID) -> LoanOperation:
    entry = await uow.journal.entry(entry_id)
    if entry is None:
        raise InvariantViolation("an idempotency key names a missing entry")
    if entry.metadata.get("loan_id") != str(loan_id):
        raise InvariantViolation("an idempotency key names another loan's entry")
    return LoanOperation(await _loan(uow, loan_id), entry, replayed=True)


def _account_of(loan: Loan) -> UUID:
    if loan.account_id is None:
        raise InvariantViolation("a disbursed loan has a ledger account", loan_id=str(loan.id))
    return loan.account_id


def _loan_account(loan: Loan, now: datetime) -> Account:
    """The loan's own ledger account: an asset of the bank, the borrower's, no number."""
    return Account.opened(
        id=uuid7(),
        kind=AccountKind.LOAN,
        account_type=AccountType.ASSET,
        currency=loan.currency,
        name=f"Loan {loan.id}",
        customer_id=loan.customer_id,
        number=None,
        now=now,
        product_id=loan.product_id,
        product_version=loan.product_version,
    )


def _schedule(
    loan: Loan,
    product: TermLoanProduct,
    installments: Sequence[Installment],
    prepayments: Sequence[Prepayment],
) -> Schedule:
    if loan.disbursed_on is None or loan.first_due_date is None:
        raise InvariantViolation("a disbursed loan has its dates", loan_id=str(loan.id))
    terms = loan_terms(loan, product, loan.disbursed_on, loan.first_due_date)
    return stored_schedule(terms, installments, prepayments, loan.level_minor)


def _check_prepayable(installments: Sequence[Installment], today: date) -> None:
    if any(i.due_date <= today and not i.settled for i in installments):
        raise RuleViolation("pay what is due before prepaying")
    if any(i.due_date > today and i.paid_anything for i in installments):
        raise RuleViolation(
            "an installment not yet due has been paid ahead; prepay after its due date"
        )


async def _check_ledger(uow: UnitOfWork, loan: Loan, installments: Sequence[Installment]) -> None:
    """The invariant, checked before commit: the loan's ledger balance is its principal
    outstanding by its installments."""
    account = await uow.accounts.get(_account_of(loan))
    outstanding = sum(installment.unpaid().principal_minor for installment in installments)
    if account is None or account.posted_minor != outstanding:
        raise InvariantViolation(
            "a loan's ledger balance must equal its principal outstanding",
            loan_id=str(loan.id),
            outstanding_minor=outstanding,
        )


def _reason(reason: str) -> str:
    cleaned = reason.strip() if isinstance(reason, str) else ""
    if not cleaned or len(cleaned) > MAX_REASON_LENGTH or not cleaned.isprintable():
        raise InvalidInput(
            f"a reason is 1 to {MAX_REASON_LENGTH} printable characters", field="reason"
        )
    return cleaned
