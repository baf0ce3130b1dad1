"""Loans through the services and over HTTP, on SQLite and on PostgreSQL: the life cycle from
application to paid off with the ledger checked after every step, maker-checker and approval
limits, schedules against a plainly written amortization here (and a published figure),
prepayment both ways, overpayments refused or kept, payoff quotes, write-offs, the close of
business's ageing and late fees, idempotent replays, and the API with its permissions.

Every expected figure is computed here, independently of the code under test: the
amortization below is the textbook one, written out with Decimal and nothing of Nexum's.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select, update

from conftest import settings_for
from core_banking.bootstrap import Nexum, build, close_of_business_steps
from core_banking.domain.accounts import Account, AccountKind, AccountStatus, Side
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.commands import RequestContext, Reverse, Withdraw
from core_banking.domain.errors import (
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    InvalidTransition,
    InvariantViolation,
    RuleViolation,
    WrongAccountKind,
)
from core_banking.domain.ledger import EntryType, JournalEntry
from core_banking.domain.lending.allocation import OverpaymentPolicy
from core_banking.domain.lending.catalog import ProductKind
from core_banking.domain.lending.dates import RepaymentFrequency
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.errors import (
    ApprovalLimitExceeded,
    OverpaymentRefused,
    ProductNotActive,
    SelfApprovalRefused,
)
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.loan_products import (
    AmortizationMethod,
    GracePeriods,
    PrepaymentStrategy,
    TermLoanProduct,
)
from core_banking.domain.lending.loan_status import LoanStatus
from core_banking.domain.lending.loans import Installment, InstallmentStatus, Loan
from core_banking.domain.security import loan_approval_limit
from core_banking.migrations import MigrationManager
from core_banking.ports import LoanQuery
from core_banking.services.loan_entries import LoanEntry
from core_banking.services.loans import (
    DisburseLoan,
    OriginateLoan,
    PayOffLoan,
    PrepayLoan,
    RepayLoan,
    WriteOffLoan,
)
from core_banking.services.loans_due import LoansDueStep
from core_banking.storage import create_storage
from core_banking.storage.schema import accounts, loan_installments
from core_banking.storage.verification import verify_ledger
from support.api import Api
from support.api import key as http_key
from support.api import money as http_money
from support.banking import FakeClock, funded_account, key, money
from support.databases import REVISIONS, migrate
from support.problems import assert_problem
from support.products import create_product, loan_terms, product_body

MAKER = RequestContext(actor="user:loan-maker", request_id="req-loans")
CHECKER = RequestContext(actor="user:loan-checker", request_id="req-loans")
DISBURSED_ON = date(2026, 1, 15)
NO_LIMIT = None


# --- an independent amortization, plainly written ----------------------------------------------


def cents(value: Decimal) -> int:
    """A Decimal amount of minor units rounded half to even to a whole one."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def textbook_schedule(
    principal: int,
    periodic_rate: Decimal,
    periods: int,
    method: str,
    *,
    principal_grace: int = 0,
    interest_grace: int = 0,
) -> list[tuple[int, int]]:
    """(principal, interest) of each installment, with every period the same length.

    French: the annuity A = P r / (1 - (1 + r)^-n) over the repaying periods, rounded to the
    cent; each installment's principal is A minus its interest, the last one takes what is
    left. Equal principal: P / n each (the first ones take the odd cents). Bullet: interest
    only, the principal at the end. Grace: no principal for the first periods; the interest
    of the first ``interest_grace`` of them is paid with the first installment after them."""
    rows: list[tuple[int, int]] = []
    outstanding, deferred = principal, 0
    repaying = periods - principal_grace
    r = periodic_rate
    annuity = cents(Decimal(principal) * r / (1 - (1 + r) ** -repaying)) if r else 0
    base, extra = divmod(principal, repaying)
    for number in range(1, periods + 1):
        interest = cents(Decimal(outstanding) * r)
        if number <= interest_grace:
            deferred += interest
            due_interest = 0
        else:
            due_interest, deferred = interest + deferred, 0
        if number == periods:
            part = outstanding
        elif number <= principal_grace:
            part = 0
        elif method == "equal_installment":
            part = annuity - interest
        elif method == "equal_principal":
            index = number - principal_grace - 1
            part = base + (1 if index < extra else 0)
        else:
            part = 0
        outstanding -= part
        rows.append((part, due_interest))
    return rows


def test_the_textbook_schedule_matches_a_published_mortgage_payment():
    """$200,000 over 30 years at 6 % a year repays $1,199.10 a month (the figure every
    mortgage table prints), and the yardstick above agrees."""
    rows = textbook_schedule(200_000_00, Decimal("0.005"), 360, "equal_installment")
    assert rows[0] == (199_10, 1000_00)
    assert sum(principal + interest for principal, interest in rows[:-1]) == 359 * 1199_10
    assert sum(principal for principal, _ in rows) == 200_000_00


# --- helpers -------------------------------------------------------------------------------------


async def loan_product(bank: Nexum, **changes: Any) -> TermLoanProduct:
    """An active term loan product: 12 % a year, 30/360, monthly, French, unless changed."""
    terms = loan_terms(**{"max_amount_minor": 500_000_00, **changes})
    record = await create_product(
        bank, ProductKind.TERM_LOAN, terms=terms, name="Personal loan", active=True
    )
    product = record.product
    assert isinstance(product, TermLoanProduct)
    return product


async def originate(
    bank: Nexum,
    product: TermLoanProduct,
    amount: str = "1200.00",
    installments: int = 12,
    *,
    balance: str = "5000.00",
    first_due_date: date | None = None,
) -> tuple[Loan, Account]:
    account = await funded_account(bank, balance, product.currency.code)
    assert account.customer_id is not None
    loan = await bank.loans.originate(
        OriginateLoan(
            customer_id=account.customer_id,
            product_id=product.product_id,
            deposit_account_id=account.id,
            amount=money(amount, product.currency.code),
            installments=installments,
            first_due_date=first_due_date,
            idempotency_key=key(),
        ),
        MAKER,
    )
    return loan, account


async def disbursed(
    bank: Nexum, clock: FakeClock, product: TermLoanProduct, amount: str = "1200.00", **options: Any
) -> tuple[Loan, Account]:
    clock.business_date = DISBURSED_ON
    loan, account = await originate(bank, product, amount, **options)
    await bank.loans.approve(loan.id, CHECKER, NO_LIMIT)
    operation = await bank.loans.disburse(DisburseLoan(loan.id, key()), MAKER)
    return operation.loan, account


async def balance_of(bank: Nexum, account_id: UUID) -> int:
    return (await bank.accounts.get(account_id)).posted_minor


async def gl_balance(bank: Nexum, code: GLCode, currency: str = "USD") -> int:
    return await balance_of(bank, gl_account_id(code, currency))


async def installments_of(bank: Nexum, loan: Loan) -> tuple[Installment, ...]:
    return (await bank.loans.schedule(loan.id)).installments


async def assert_ledger_holds(bank: Nexum, loan: Loan) -> None:
    """The loan's ledger balance is its principal outstanding, and the whole ledger
    verifies (balances recomputed from the lines, entries balanced, chains intact)."""
    current = await bank.loans.get(loan.id)
    assert current.account_id is not None
    outstanding = sum(
        installment.principal_minor - installment.principal_paid_minor
        for installment in await installments_of(bank, current)
    )
    assert await balance_of(bank, current.account_id) == outstanding
    report = await verify_ledger(bank.storage)
    assert report.violations == []


def repay(loan: Loan, amount: str, idempotency_key: str | None = None) -> RepayLoan:
    return RepayLoan(loan.id, money(amount, loan.currency), idempotency_key or key())


def as_textbook(installments: tuple[Installment, ...]) -> list[tuple[int, int]]:
    return [(i.principal_minor, i.interest_minor) for i in installments]


# --- the life cycle ------------------------------------------------------------------------------


async def test_a_loan_goes_from_application_to_paid_off_with_the_ledger_right_at_every_step(
    bank, clock
):
    product = await loan_product(bank)
    clock.business_date = DISBURSED_ON
    loan, account = await originate(bank, product, "1200.00", 12)
    assert (loan.status, loan.account_id, loan.created_by) == (
        LoanStatus.PENDING,
        None,
        MAKER.actor,
    )
    assert (await bank.loans.schedule(loan.id)).installments == ()

    approved = await bank.loans.approve(loan.id, CHECKER, NO_LIMIT)
    assert (approved.status, approved.decided_by) == (LoanStatus.APPROVED, CHECKER.actor)

    interest_income = await gl_balance(bank, GLCode.INTEREST_INCOME)
    operation = await bank.loans.disburse(DisburseLoan(loan.id, key()), MAKER)
    active = operation.loan
    assert active.status is LoanStatus.ACTIVE
    assert active.account_id is not None
    assert (active.disbursed_on, active.first_due_date) == (DISBURSED_ON, date(2026, 2, 15))
    assert operation.entry.entry_type is EntryType.LOAN_DISBURSEMENT
    assert {
        (line.account_id, line.side.value, line.amount_minor) for line in operation.entry.lines
    } == {
        (active.account_id, "D", 1200_00),
        (account.id, "C", 1200_00),
    }
    assert await balance_of(bank, account.id) == 5000_00 + 1200_00
    await assert_ledger_holds(bank, active)

    installments = await installments_of(bank, active)
    expected = textbook_schedule(1200_00, Decimal("0.01"), 12, "equal_installment")
    assert as_textbook(installments) == expected
    assert [i.due_date for i in installments] == [
        date(2026 + (m // 12), m % 12 + 1, 15) for m in range(1, 13)
    ]

    for installment in installments:
        clock.business_date = installment.due_date
        amount = installment.principal_minor + installment.interest_minor
        paid = await bank.loans.repay(repay(active, decimal_string(amount)), MAKER)
        await assert_ledger_holds(bank, paid.loan)

    final = await bank.loans.get(loan.id)
    assert (final.status, final.closed_on, final.credit_minor) == (
        LoanStatus.PAID_OFF,
        installments[-1].due_date,
        0,
    )
    assert await balance_of(bank, active.account_id) == 0
    assert (await bank.accounts.get(active.account_id)).status is AccountStatus.CLOSED
    total_interest = sum(interest for _, interest in expected)
    assert await gl_balance(bank, GLCode.INTEREST_INCOME) - interest_income == total_interest
    assert await balance_of(bank, account.id) == 5000_00 - total_interest
    assert all(i.status is InstallmentStatus.PAID for i in await installments_of(bank, final))


# --- schedules against the textbook --------------------------------------------------------------


async def test_a_thirty_year_mortgage_pays_the_published_1199_10_a_month(bank, clock):
    product = await loan_product(
        bank,
        annual_rate=Decimal("0.06"),
        max_installments=360,
        late_fee=None,
    )
    loan, _ = await disbursed(bank, clock, product, "200000.00", installments=360)
    installments = await installments_of(bank, loan)
    assert {i.principal_minor + i.interest_minor for i in installments[:-1]} == {1199_10}
    assert as_textbook(installments) == textbook_schedule(
        200_000_00, Decimal("0.005"), 360, "equal_installment"
    )
    assert installments[-1].due_date == date(2056, 1, 15)


@pytest.mark.parametrize("method", [AmortizationMethod.EQUAL_PRINCIPAL, AmortizationMethod.BULLET])
async def test_equal_principal_and_bullet_schedules_match_the_textbook(bank, clock, method):
    product = await loan_product(bank, method=method)
    loan, _ = await disbursed(bank, clock, product, "1000.07", installments=6)
    installments = await installments_of(bank, loan)
    assert as_textbook(installments) == textbook_schedule(1000_07, Decimal("0.01"), 6, method.value)
    assert sum(i.principal_minor for i in installments) == 1000_07


async def test_a_grace_period_defers_principal_and_interest_as_the_textbook_says(bank, clock):
    product = await loan_product(bank, grace=GracePeriods(principal_periods=2, interest_periods=1))
    loan, _ = await disbursed(bank, clock, product, "5000.00", installments=12)
    installments = await installments_of(bank, loan)
    expected = textbook_schedule(
        5000_00, Decimal("0.01"), 12, "equal_installment", principal_grace=2, interest_grace=1
    )
    assert as_textbook(installments) == expected
    assert installments[0].deferred_interest_minor == 50_00
    assert (installments[0].interest_minor, installments[1].interest_minor) == (0, 100_00)


@pytest.mark.parametrize(
    ("frequency", "days"), [(RepaymentFrequency.WEEKLY, 7), (RepaymentFrequency.BIWEEKLY, 14)]
)
async def test_weekly_and_biweekly_schedules_step_their_days(bank, clock, frequency, days):
    product = await loan_product(bank, frequency=frequency, day_count=DayCount.ACTUAL_365_FIXED)
    loan, _ = await disbursed(bank, clock, product, "900.00", installments=10)
    installments = await installments_of(bank, loan)
    assert [i.due_date for i in installments] == [
        DISBURSED_ON + timedelta(days=days * n) for n in range(1, 11)
    ]
    rate = Decimal("0.12") * days / 365
    assert as_textbook(installments) == textbook_schedule(900_00, rate, 10, "equal_installment")


# --- maker-checker and limits --------------------------------------------------------------------


async def test_the_creator_cannot_approve_their_own_application(bank, clock):
    product = await loan_product(bank)
    loan, _ = await originate(bank, product)
    with pytest.raises(SelfApprovalRefused):
        await bank.loans.approve(loan.id, MAKER, NO_LIMIT)
    assert (await bank.loans.get(loan.id)).status is LoanStatus.PENDING


def test_loan_approval_limits_follow_the_roles():
    assert loan_approval_limit(["loan_officer"]) == Decimal("50000.00")
    assert loan_approval_limit(["loan_officer", "manager"]) == Decimal("500000.00")
    assert loan_approval_limit(["admin", "loan_officer"]) is None
    assert loan_approval_limit(["teller", "auditor"]) == Decimal("0")
    assert loan_approval_limit([]) == Decimal("0")


async def test_an_approver_approves_up_to_their_roles_limit_and_no_further(bank, clock):
    product = await loan_product(bank)
    officer = loan_approval_limit(["loan_officer"])
    at_limit, _ = await originate(bank, product, "50000.00")
    above, _ = await originate(bank, product, "50000.01")

    assert (await bank.loans.approve(at_limit.id, CHECKER, officer)).status is LoanStatus.APPROVED
    with pytest.raises(ApprovalLimitExceeded):
        await bank.loans.approve(above.id, CHECKER, officer)
    with pytest.raises(ApprovalLimitExceeded):
        await bank.loans.approve(above.id, CHECKER, loan_approval_limit(["teller"]))
    manager = loan_approval_limit(["manager"])
    assert (await bank.loans.approve(above.id, CHECKER, manager)).status is LoanStatus.APPROVED


async def test_a_rejected_application_is_final_and_nothing_moves(bank, clock):
    product = await loan_product(bank)
    loan, account = await originate(bank, product)
    rejected = await bank.loans.reject(loan.id, "  income not verified ", CHECKER)
    assert (rejected.status, rejected.rejection_reason) == (
        LoanStatus.REJECTED,
        "income not verified",
    )
    with pytest.raises(InvalidTransition):
        await bank.loans.approve(loan.id, CHECKER, NO_LIMIT)
    with pytest.raises(InvalidTransition):
        await bank.loans.disburse(DisburseLoan(loan.id, key()), MAKER)
    assert await balance_of(bank, account.id) == 5000_00


async def test_closing_files_away_an_approved_paid_off_or_written_off_loan(bank, clock):
    product = await loan_product(bank)
    pending, _ = await originate(bank, product)
    with pytest.raises(InvalidTransition):
        await bank.loans.close(pending.id, CHECKER)
    await bank.loans.approve(pending.id, CHECKER, NO_LIMIT)
    assert (await bank.loans.close(pending.id, CHECKER)).status is LoanStatus.CLOSED
    with pytest.raises(InvalidTransition):
        await bank.loans.disburse(DisburseLoan(pending.id, key()), MAKER)
    active, _ = await disbursed(bank, clock, product)
    with pytest.raises(InvalidTransition):
        await bank.loans.close(active.id, CHECKER)
    await bank.loans.pay_off(PayOffLoan(active.id, key()), MAKER)
    assert (await bank.loans.close(active.id, CHECKER)).status is LoanStatus.CLOSED


async def test_a_pending_loan_cannot_be_disbursed(bank, clock):
    product = await loan_product(bank)
    loan, _ = await originate(bank, product)
    with pytest.raises(InvalidTransition):
        await bank.loans.disburse(DisburseLoan(loan.id, key()), MAKER)


async def test_applications_outside_the_product_are_refused(bank, clock):
    product = await loan_product(bank)
    with pytest.raises(InvalidInput):
        await originate(bank, product, "99.99")
    with pytest.raises(InvalidInput):
        await originate(bank, product, installments=61)
    draft = (await create_product(bank, ProductKind.TERM_LOAN, terms=loan_terms())).product
    assert isinstance(draft, TermLoanProduct)
    with pytest.raises(ProductNotActive):
        await originate(bank, draft)
    account = await funded_account(bank)
    other = await funded_account(bank)
    assert account.customer_id is not None
    with pytest.raises(WrongAccountKind):
        await bank.loans.originate(
            OriginateLoan(account.customer_id, product.product_id, other.id, money("500.00"), 6),
            MAKER,
        )


# --- repayments and overpayments -----------------------------------------------------------------


async def test_an_overpayment_is_refused_when_the_product_says_so_and_nothing_moves(bank, clock):
    product = await loan_product(bank, overpayment_policy=OverpaymentPolicy.REFUSE)
    loan, account = await disbursed(bank, clock, product)
    first, second = (await installments_of(bank, loan))[:2]
    clock.business_date = first.due_date
    before = await balance_of(bank, account.id)
    payable = first.principal_minor + first.interest_minor + second.principal_minor
    payable += second.interest_minor
    with pytest.raises(OverpaymentRefused):
        await bank.loans.repay(repay(loan, decimal_string(payable + 1)), MAKER)
    assert await balance_of(bank, account.id) == before
    paid = await bank.loans.repay(repay(loan, decimal_string(payable)), MAKER)
    assert [i.status for i in (await installments_of(bank, paid.loan))[:3]] == [
        InstallmentStatus.PAID,
        InstallmentStatus.PAID,
        InstallmentStatus.SCHEDULED,
    ]
    await assert_ledger_holds(bank, paid.loan)


async def test_an_overpayment_is_kept_as_a_credit_and_used_by_the_next_payment(bank, clock):
    product = await loan_product(bank, overpayment_policy=OverpaymentPolicy.KEEP_AS_CREDIT)
    loan, _ = await disbursed(bank, clock, product)
    first, second, third = (await installments_of(bank, loan))[:3]
    clock.business_date = first.due_date
    credits = await gl_balance(bank, GLCode.LOAN_CREDITS)
    both = sum(i.principal_minor + i.interest_minor for i in (first, second))
    paid = await bank.loans.repay(repay(loan, decimal_string(both + 50_00)), MAKER)
    assert paid.loan.credit_minor == 50_00
    assert await gl_balance(bank, GLCode.LOAN_CREDITS) == credits + 50_00
    await assert_ledger_holds(bank, paid.loan)

    clock.business_date = third.due_date
    rest = third.principal_minor + third.interest_minor - 50_00
    after = await bank.loans.repay(repay(loan, decimal_string(rest)), MAKER)
    assert after.loan.credit_minor == 0
    assert await gl_balance(bank, GLCode.LOAN_CREDITS) == credits
    assert (await installments_of(bank, after.loan))[2].status is InstallmentStatus.PAID
    await assert_ledger_holds(bank, after.loan)


async def test_a_repayment_needs_the_funds_of_the_deposit_account(bank, clock):
    product = await loan_product(bank)
    loan, account = await disbursed(bank, clock, product, balance="1.00")
    await bank.ledger.withdraw(Withdraw(account.id, money("1201.00"), key()), MAKER)
    with pytest.raises(InsufficientFunds):
        await bank.loans.repay(repay(loan, "10.00"), MAKER)


async def test_a_partial_payment_goes_to_interest_before_principal(bank, clock):
    product = await loan_product(bank)
    loan, _ = await disbursed(bank, clock, product)
    first = (await installments_of(bank, loan))[0]
    clock.business_date = first.due_date
    paid = await bank.loans.repay(repay(loan, "15.00"), MAKER)
    updated = (await installments_of(bank, paid.loan))[0]
    assert (updated.interest_paid_minor, updated.principal_paid_minor) == (12_00, 3_00)
    assert updated.status is not InstallmentStatus.PAID
    await assert_ledger_holds(bank, paid.loan)


# --- prepayments ---------------------------------------------------------------------------------


def textbook_after_prepayment(
    outstanding: int, rate: Decimal, periods_left: int, installment: int | None
) -> list[tuple[int, int]]:
    """The rest of a French schedule after a prepayment on a due date: keeping the
    installment (reduce term: fewer periods) or pricing a new one over the same periods."""
    if installment is None:
        return textbook_schedule(outstanding, rate, periods_left, "equal_installment")
    rows: list[tuple[int, int]] = []
    while outstanding > 0:
        interest = cents(Decimal(outstanding) * rate)
        part = min(outstanding, installment - interest)
        if len(rows) == periods_left - 1:
            part = outstanding
        outstanding -= part
        rows.append((part, interest))
    return rows


@pytest.mark.parametrize(
    "strategy", [PrepaymentStrategy.REDUCE_TERM, PrepaymentStrategy.REDUCE_INSTALLMENT]
)
async def test_a_prepayment_on_a_due_date_reduces_the_term_or_the_installment(
    bank, clock, strategy
):
    product = await loan_product(bank, prepayment_strategy=strategy)
    loan, account = await disbursed(bank, clock, product)
    first = (await installments_of(bank, loan))[0]
    clock.business_date = first.due_date
    await bank.loans.repay(
        repay(loan, decimal_string(first.principal_minor + first.interest_minor)), MAKER
    )
    before = await balance_of(bank, account.id)

    prepaid = await bank.loans.prepay(PrepayLoan(loan.id, money("300.00"), key()), MAKER)

    # on a due date no interest has accrued since, and this product has no early fee
    assert await balance_of(bank, account.id) == before - 300_00
    rest = (await installments_of(bank, prepaid.loan))[1:]
    keep = first.principal_minor + first.interest_minor
    expected = textbook_after_prepayment(
        first.outstanding_after_minor - 300_00,
        Decimal("0.01"),
        11,
        keep if strategy is PrepaymentStrategy.REDUCE_TERM else None,
    )
    assert as_textbook(tuple(rest)) == expected
    if strategy is PrepaymentStrategy.REDUCE_TERM:
        assert len(rest) < 11
    else:
        assert rest[-1].due_date == date(2027, 1, 15)  # the same maturity
    assert prepaid.loan.maturity_date == rest[-1].due_date
    await assert_ledger_holds(bank, prepaid.loan)


async def test_a_prepayment_between_due_dates_pays_the_interest_accrued_and_the_fee(bank, clock):
    product = await loan_product(bank, early_repayment_fee=FeeRule.percent(Decimal("0.02")))
    loan, account = await disbursed(bank, clock, product)
    clock.business_date = DISBURSED_ON + timedelta(days=10)
    before = await balance_of(bank, account.id)
    fees = await gl_balance(bank, GLCode.FEE_INCOME)

    prepaid = await bank.loans.prepay(PrepayLoan(loan.id, money("200.00"), key()), MAKER)

    accrued = cents(Decimal(1200_00) * Decimal("0.12") * 10 / 360)  # 30/360: ten days
    assert accrued == 4_00
    assert await balance_of(bank, account.id) == before - (200_00 + accrued + 4_00)
    assert await gl_balance(bank, GLCode.FEE_INCOME) == fees + 4_00
    first = (await installments_of(bank, prepaid.loan))[0]
    # its period now runs from the prepayment: 25 January to 15 February, 20 days in 30/360
    assert first.interest_minor == cents(Decimal(1000_00) * Decimal("0.12") * 20 / 360)
    await assert_ledger_holds(bank, prepaid.loan)


async def test_a_prepayment_is_refused_while_anything_is_overdue_or_for_the_whole_loan(bank, clock):
    product = await loan_product(bank)
    loan, _ = await disbursed(bank, clock, product)
    with pytest.raises(InvalidAmount):
        await bank.loans.prepay(PrepayLoan(loan.id, money("1200.00"), key()), MAKER)
    first = (await installments_of(bank, loan))[0]
    clock.business_date = first.due_date + timedelta(days=1)
    with pytest.raises(RuleViolation):
        await bank.loans.prepay(PrepayLoan(loan.id, money("100.00"), key()), MAKER)
    # paid ahead: the next installment is paid before its due date, so a new schedule
    # would write over what was paid of it
    late = first.principal_minor + first.interest_minor
    await bank.loans.repay(repay(loan, decimal_string(late + 1_00)), MAKER)
    with pytest.raises(RuleViolation):
        await bank.loans.prepay(PrepayLoan(loan.id, money("100.00"), key()), MAKER)
    await assert_ledger_holds(bank, loan)


def test_loans_due_runs_after_the_deposit_steps(tmp_sqlite_url):
    names = [
        step.name for step in close_of_business_steps(create_storage(tmp_sqlite_url), FakeClock())
    ]
    position = names.index("loans_due")
    assert names[position - 2 : position] == [
        "deposit_interest_posting",
        "deposit_maintenance_fees",
    ]


# --- payoff quotes -------------------------------------------------------------------------------


async def test_a_payoff_quote_for_any_date(bank, clock):
    product = await loan_product(bank, early_repayment_fee=FeeRule.percent(Decimal("0.01")))
    loan, _ = await disbursed(bank, clock, product)

    ten_days = await bank.loans.payoff_quote(loan.id, DISBURSED_ON + timedelta(days=10))
    assert (ten_days.principal_minor, ten_days.interest_minor) == (1200_00, 4_00)
    assert ten_days.early_repayment_fee_minor == 12_00
    assert ten_days.total_minor == 1200_00 + 4_00 + 12_00

    first = (await installments_of(bank, loan))[0]
    later = first.due_date + timedelta(days=6)  # the first installment unpaid by then
    quote = await bank.loans.payoff_quote(loan.id, later)
    not_due = 1200_00 - first.principal_minor
    assert quote.principal_minor == 1200_00
    assert quote.interest_minor == first.interest_minor + cents(
        Decimal(not_due) * Decimal("0.12") * 6 / 360
    )
    assert quote.early_repayment_fee_minor == cents(Decimal(not_due) / 100)
    with pytest.raises(InvalidInput):
        await bank.loans.payoff_quote(loan.id, DISBURSED_ON - timedelta(days=1))


async def test_paying_off_between_due_dates_takes_exactly_the_quote(bank, clock):
    product = await loan_product(bank, early_repayment_fee=FeeRule.percent(Decimal("0.01")))
    loan, account = await disbursed(bank, clock, product)
    first = (await installments_of(bank, loan))[0]
    clock.business_date = first.due_date
    await bank.loans.repay(
        repay(loan, decimal_string(first.principal_minor + first.interest_minor)), MAKER
    )
    clock.business_date = first.due_date + timedelta(days=9)
    quote = await bank.loans.payoff_quote(loan.id)
    not_due = first.outstanding_after_minor
    assert quote.principal_minor == not_due
    assert quote.interest_minor == cents(Decimal(not_due) * Decimal("0.12") * 9 / 360)
    assert quote.early_repayment_fee_minor == cents(Decimal(not_due) / 100)
    before = await balance_of(bank, account.id)
    income = await gl_balance(bank, GLCode.INTEREST_INCOME)

    paid = await bank.loans.pay_off(PayOffLoan(loan.id, key()), MAKER)

    assert paid.entry.entry_type is EntryType.LOAN_PAYOFF
    assert paid.entry.metadata["loan_id"] == str(loan.id)
    assert await balance_of(bank, account.id) == before - quote.total_minor
    assert await gl_balance(bank, GLCode.INTEREST_INCOME) == income + quote.interest_minor
    assert (paid.loan.status, paid.loan.closed_on) == (LoanStatus.PAID_OFF, clock.business_date)
    installments = await installments_of(bank, paid.loan)
    assert [i.number for i in installments] == [1, 2]
    assert (installments[1].due_date, installments[1].principal_minor) == (
        clock.business_date,
        not_due,
    )
    assert sum(i.principal_minor for i in installments) == 1200_00
    assert all(i.status is InstallmentStatus.PAID for i in installments)
    await assert_ledger_holds(bank, paid.loan)


async def test_paying_off_gives_back_interest_paid_ahead_for_days_not_run(bank, clock):
    product = await loan_product(bank)
    loan, account = await disbursed(bank, clock, product)
    first, second = (await installments_of(bank, loan))[:2]
    clock.business_date = first.due_date
    both = sum(i.principal_minor + i.interest_minor for i in (first, second))
    await bank.loans.repay(repay(loan, decimal_string(both)), MAKER)
    clock.business_date = first.due_date + timedelta(days=3)
    quote = await bank.loans.payoff_quote(loan.id)
    accrued = cents(Decimal(first.outstanding_after_minor) * Decimal("0.12") * 3 / 360)
    assert (quote.interest_minor, quote.credit_minor) == (0, second.interest_minor - accrued)
    assert quote.principal_minor == second.outstanding_after_minor
    before = await balance_of(bank, account.id)

    paid = await bank.loans.pay_off(PayOffLoan(loan.id, key()), MAKER)

    assert await balance_of(bank, account.id) == before - quote.total_minor
    assert paid.loan.status is LoanStatus.PAID_OFF
    await assert_ledger_holds(bank, paid.loan)


# --- the close of business -----------------------------------------------------------------------


async def run_loans_due(bank: Nexum, clock: FakeClock, on: date) -> int:
    return await LoansDueStep(bank.storage, clock).run(on, lambda done, total: None)


async def test_the_close_of_business_ages_loans_and_charges_a_late_fee_once(bank, clock):
    product = await loan_product(bank, late_fee=FeeRule.fixed(25_00), late_fee_grace_days=5)
    loan, _ = await disbursed(bank, clock, product)
    first = (await installments_of(bank, loan))[0]
    penalties = await gl_balance(bank, GLCode.PENALTY_INCOME)

    await run_loans_due(bank, clock, first.due_date)
    assert (await installments_of(bank, loan))[0].status is InstallmentStatus.DUE
    assert (await bank.loans.get(loan.id)).status is LoanStatus.ACTIVE

    await run_loans_due(bank, clock, first.due_date + timedelta(days=1))
    late = await bank.loans.get(loan.id)
    assert (late.status, late.days_past_due) == (LoanStatus.DELINQUENT, 1)
    assert (await installments_of(bank, loan))[0].status is InstallmentStatus.OVERDUE

    await run_loans_due(bank, clock, first.due_date + timedelta(days=5))  # within grace
    assert (await installments_of(bank, loan))[0].penalty_minor == 0
    for _ in range(2):  # the sixth day, twice: one fee
        await run_loans_due(bank, clock, first.due_date + timedelta(days=6))
    charged = (await installments_of(bank, loan))[0]
    assert (charged.penalty_minor, charged.late_fee_charged_on) == (
        25_00,
        first.due_date + timedelta(days=6),
    )
    assert (await bank.loans.get(loan.id)).days_past_due == 6
    assert await gl_balance(bank, GLCode.PENALTY_INCOME) >= penalties + 25_00
    await assert_ledger_holds(bank, loan)

    clock.business_date = first.due_date + timedelta(days=7)
    owed = first.principal_minor + first.interest_minor + 25_00
    cured = await bank.loans.repay(repay(loan, decimal_string(owed)), MAKER)
    assert (cured.loan.status, cured.loan.days_past_due) == (LoanStatus.ACTIVE, 0)
    paid = (await installments_of(bank, cured.loan))[0]
    assert (paid.penalty_paid_minor, paid.status) == (25_00, InstallmentStatus.PAID)
    # the late fee settles fees receivable and the interest, billed when it fell due,
    # interest receivable: nothing of this payment is income now
    assert credits_of(cured.entry) == {
        GLCode.FEES_RECEIVABLE: 25_00,
        GLCode.INTEREST_RECEIVABLE: first.interest_minor,
        "loan": first.principal_minor,
    }
    assert paid.interest_billed_on == first.due_date
    await assert_ledger_holds(bank, cured.loan)


def credits_of(entry: JournalEntry) -> dict[GLCode | str, int]:
    """The entry's credits by general-ledger code, the loan account's as "loan" (the
    deposit account is the one debited)."""
    codes = {gl_account_id(code, "USD"): code for code in GLCode}
    return {
        codes.get(line.account_id, "loan"): line.amount_minor
        for line in entry.lines
        if line.side is Side.CREDIT
    }


async def test_late_fees_in_batches_of_one_charge_each_installment_once(bank, clock):
    product = await loan_product(
        bank, late_fee=FeeRule.percent(Decimal("0.05")), late_fee_grace_days=0
    )
    loans = [(await disbursed(bank, clock, product, amount))[0] for amount in ("1200.00", "600.00")]
    firsts = [(await installments_of(bank, loan))[0] for loan in loans]
    late = firsts[0].due_date + timedelta(days=1)
    step = LoansDueStep(bank.storage, clock, batch_size=1)
    for _ in range(2):
        await step.run(late, lambda done, total: None)
    for loan, first in zip(loans, firsts, strict=True):
        charged = (await installments_of(bank, loan))[0]
        owed = first.principal_minor + first.interest_minor
        assert charged.penalty_minor == cents(Decimal(owed) * Decimal("0.05"))
        await assert_ledger_holds(bank, loan)


# --- write-off -----------------------------------------------------------------------------------


async def test_a_write_off_moves_principal_billed_interest_and_late_fees_to_the_loss_account(
    bank, clock
):
    product = await loan_product(bank, late_fee=FeeRule.fixed(25_00), late_fee_grace_days=0)
    loan, _ = await disbursed(bank, clock, product)
    first = (await installments_of(bank, loan))[0]
    await run_loans_due(bank, clock, first.due_date + timedelta(days=1))
    losses = await gl_balance(bank, GLCode.LOAN_LOSS_EXPENSE)
    with pytest.raises(InvalidInput):
        await bank.loans.write_off(WriteOffLoan(loan.id, " ", key()), CHECKER)

    written = await bank.loans.write_off(
        WriteOffLoan(loan.id, "borrower insolvent", key()), CHECKER
    )

    assert written.loan.status is LoanStatus.WRITTEN_OFF
    assert written.entry.entry_type is EntryType.LOAN_WRITE_OFF
    billed = first.interest_minor  # billed when the first installment fell due
    assert await gl_balance(bank, GLCode.LOAN_LOSS_EXPENSE) == losses + 1200_00 + 25_00 + billed
    assert credits_of(written.entry) == {
        "loan": 1200_00,
        GLCode.FEES_RECEIVABLE: 25_00,
        GLCode.INTEREST_RECEIVABLE: billed,
    }
    assert await balance_of(bank, loan.account_id) == 0
    assert (await bank.accounts.get(loan.account_id)).status is AccountStatus.CLOSED
    assert (await verify_ledger(bank.storage)).violations == []
    with pytest.raises(InvalidTransition):
        await bank.loans.repay(repay(loan, "10.00"), MAKER)


# --- idempotency ---------------------------------------------------------------------------------


async def test_money_moving_commands_replay_under_their_key(bank, clock):
    product = await loan_product(bank)
    clock.business_date = DISBURSED_ON
    loan, account = await originate(bank, product)
    await bank.loans.approve(loan.id, CHECKER, NO_LIMIT)
    disburse_key = key()
    first = await bank.loans.disburse(DisburseLoan(loan.id, disburse_key), MAKER)
    again = await bank.loans.disburse(DisburseLoan(loan.id, disburse_key), MAKER)
    assert (again.replayed, again.entry.id) == (True, first.entry.id)
    assert await balance_of(bank, account.id) == 5000_00 + 1200_00

    repay_key = key()
    paid = await bank.loans.repay(repay(first.loan, "20.00", repay_key), MAKER)
    replayed = await bank.loans.repay(repay(first.loan, "20.00", repay_key), MAKER)
    assert (replayed.replayed, replayed.entry.id) == (True, paid.entry.id)
    assert await balance_of(bank, account.id) == 5000_00 + 1200_00 - 20_00
    with pytest.raises(IdempotencyKeyReused):
        await bank.loans.repay(repay(first.loan, "21.00", repay_key), MAKER)
    await assert_ledger_holds(bank, first.loan)


async def test_concurrent_repayments_of_one_loan_queue_on_the_loan(bank, clock):
    """Ten repayments at once: each locks the loan first, so each allocates on what the one
    before it left, and every cent lands exactly once."""
    product = await loan_product(bank, overpayment_policy=OverpaymentPolicy.KEEP_AS_CREDIT)
    loan, account = await disbursed(bank, clock, product)
    clock.business_date = (await installments_of(bank, loan))[0].due_date
    await asyncio.gather(*(bank.loans.repay(repay(loan, "7.00"), MAKER) for _ in range(10)))
    installments = await installments_of(bank, loan)
    paid = sum(
        i.principal_paid_minor + i.interest_paid_minor + i.penalty_paid_minor for i in installments
    )
    credit = (await bank.loans.get(loan.id)).credit_minor
    assert paid + credit == 70_00
    assert await balance_of(bank, account.id) == 5000_00 + 1200_00 - 70_00
    await assert_ledger_holds(bank, loan)


async def test_originating_twice_with_one_key_makes_one_loan(bank, clock):
    product = await loan_product(bank)
    account = await funded_account(bank)
    assert account.customer_id is not None
    command = OriginateLoan(
        account.customer_id, product.product_id, account.id, money("500.00"), 6, None, key()
    )
    first = await bank.loans.originate(command, MAKER)
    assert await bank.loans.originate(command, MAKER) == first
    listed = await bank.loans.list(LoanQuery(limit=10, customer_id=account.customer_id))
    assert [loan.id for loan in listed] == [first.id]


async def test_loan_entries_are_not_reversed_on_their_own(bank, clock):
    product = await loan_product(bank)
    loan, _ = await disbursed(bank, clock, product)
    assert loan.disbursement_entry_id is not None
    with pytest.raises(InvalidTransition):
        await bank.ledger.reverse(Reverse(loan.disbursement_entry_id, "oops", key()), MAKER)


async def test_lists_filter_by_customer_status_and_product_newest_first(bank, clock):
    product = await loan_product(bank)
    account = await funded_account(bank)
    assert account.customer_id is not None
    made = []
    for amount in ("500.00", "600.00", "700.00"):
        made.append(
            await bank.loans.originate(
                OriginateLoan(
                    account.customer_id, product.product_id, account.id, money(amount), 6
                ),
                MAKER,
            )
        )
    await bank.loans.reject(made[1].id, "no", CHECKER)
    mine = LoanQuery(limit=10, customer_id=account.customer_id)
    assert [loan.id for loan in await bank.loans.list(mine)] == [m.id for m in reversed(made)]
    pending = await bank.loans.list(replace(mine, status=LoanStatus.PENDING))
    assert [loan.id for loan in pending] == [made[2].id, made[0].id]
    first_page = await bank.loans.list(replace(mine, limit=2))
    second_page = await bank.loans.list(replace(mine, limit=2, before=first_page[-1].id))
    assert [loan.id for loan in first_page + second_page] == [m.id for m in reversed(made)]
    by_product = await bank.loans.list(LoanQuery(limit=500, product_id=product.product_id))
    assert {loan.id for loan in by_product} == {m.id for m in made}


def decimal_string(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


# --- over HTTP -----------------------------------------------------------------------------------


async def http_product(api: Api, **changes: Any) -> dict[str, Any]:
    admin = await api.admin()
    created = await api.http.post(
        "/products", headers=admin, json=product_body("term_loan", **changes)
    )
    assert created.status_code == 201, created.text
    product = created.json()
    activated = await api.http.post(
        f"/products/{product['product_id']}/versions/1/activate", headers=admin
    )
    assert activated.status_code == 200, activated.text
    return product


async def http_apply(
    api: Api, headers: dict[str, str], product: dict[str, Any], amount: str = "1200.00"
) -> tuple[dict[str, Any], dict[str, Any]]:
    account = await api.funded_account("1000.00")
    response = await api.http.post(
        "/loans",
        headers=headers,
        json={
            "customer_id": account["customer_id"],
            "product_id": product["product_id"],
            "deposit_account_id": account["account_id"],
            "amount": http_money(amount),
            "installments": 12,
        },
    )
    assert response.status_code == 201, response.text
    return response.json(), account


@pytest.mark.http
async def test_over_http_a_loan_is_applied_for_approved_disbursed_repaid_and_written_off(api):
    product = await http_product(api)
    _, maker = await api.new_user("loan_officer")
    _, checker = await api.new_user("loan_officer")
    loan, account = await http_apply(api, maker, product)
    assert (loan["status"], loan["principal"], loan["ledger_account_id"]) == (
        "pending",
        {"amount": "1200.00", "currency": "USD"},
        None,
    )
    loan_url = f"/loans/{loan['loan_id']}"

    assert_problem(
        await api.http.post(f"{loan_url}/approve", headers=maker), 403, "self_approval_refused"
    )
    approved = await api.http.post(f"{loan_url}/approve", headers=checker)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"

    disburse_key = {"Idempotency-Key": http_key()}
    disbursed_response = await api.http.post(
        f"{loan_url}/disburse", headers={**maker, **disburse_key}
    )
    assert disbursed_response.status_code == 201, disbursed_response.text
    body = disbursed_response.json()
    assert body["loan"]["status"] == "active"
    assert body["transaction"]["type"] == "loan_disbursement"
    replay = await api.http.post(f"{loan_url}/disburse", headers={**maker, **disburse_key})
    assert (replay.status_code, replay.json()) == (201, body)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert (await api.balances(account["account_id"]))["posted"] == "2200.00"

    schedule = await api.http.get(f"{loan_url}/schedule", headers=maker)
    assert schedule.status_code == 200, schedule.text
    installments = schedule.json()["installments"]
    assert len(installments) == 12
    assert installments[0]["principal"] == {"amount": "0.00", "currency": "USD"}  # grace
    assert sum(Decimal(i["principal"]["amount"]) for i in installments) == Decimal("1200.00")

    teller = await api.as_role("teller")
    too_much = await api.http.post(
        f"{loan_url}/repay",
        headers={**teller, "Idempotency-Key": http_key()},
        json={"amount": http_money("10000.01")},
    )
    assert_problem(too_much, 403, "amount_above_role_limit")
    repaid = await api.http.post(
        f"{loan_url}/repay",
        headers={**teller, "Idempotency-Key": http_key()},
        json={"amount": http_money("10.00")},
    )
    assert repaid.status_code == 201, repaid.text
    assert repaid.json()["transaction"]["type"] == "loan_repayment"

    quote = await api.http.get(
        f"{loan_url}/payoff", params={"date": installments[0]["due_date"]}, headers=maker
    )
    assert quote.status_code == 200, quote.text
    assert quote.json()["principal"] == {"amount": "1200.00", "currency": "USD"}

    listed = await api.http.get(
        "/loans", params={"customer_id": account["customer_id"]}, headers=maker
    )
    assert [item["loan_id"] for item in listed.json()["items"]] == [loan["loan_id"]]

    reason = {"reason": "fraud"}
    refused = await api.http.post(
        f"{loan_url}/write-off", headers={**maker, "Idempotency-Key": http_key()}, json=reason
    )
    assert_problem(refused, 403, "forbidden", permission="loans:write_off")
    manager = await api.as_role("manager")
    written = await api.http.post(
        f"{loan_url}/write-off", headers={**manager, "Idempotency-Key": http_key()}, json=reason
    )
    assert written.status_code == 201, written.text
    assert written.json()["loan"]["status"] == "written_off"


@pytest.mark.http
async def test_over_http_a_teller_pays_a_loan_off_at_its_quote(api):
    product = await http_product(api)
    _, maker = await api.new_user("loan_officer")
    loan, account = await http_apply(api, maker, product)
    loan_url = f"/loans/{loan['loan_id']}"
    approved = await api.http.post(f"{loan_url}/approve", headers=await api.as_role("manager"))
    assert approved.status_code == 200, approved.text
    disbursed_response = await api.http.post(
        f"{loan_url}/disburse", headers={**maker, "Idempotency-Key": http_key()}
    )
    assert disbursed_response.status_code == 201, disbursed_response.text
    quote = (await api.http.get(f"{loan_url}/payoff", headers=maker)).json()

    paid = await api.http.post(
        f"{loan_url}/payoff", headers={**await api.as_role("teller"), "Idempotency-Key": http_key()}
    )

    assert paid.status_code == 201, paid.text
    assert paid.json()["loan"]["status"] == "paid_off"
    left = Decimal("2200.00") - Decimal(quote["total"]["amount"])
    assert (await api.balances(account["account_id"]))["posted"] == f"{left:.2f}"


@pytest.mark.http
async def test_over_http_approval_limits_follow_the_role(api):
    product = await http_product(api, max_amount=http_money("900000.00"))
    _, maker = await api.new_user("loan_officer")
    _, officer = await api.new_user("loan_officer")
    loan, _ = await http_apply(api, maker, product, "50000.01")
    url = f"/loans/{loan['loan_id']}/approve"
    assert_problem(await api.http.post(url, headers=officer), 403, "approval_above_role_limit")
    approved = await api.http.post(url, headers=await api.as_role("manager"))
    assert approved.status_code == 200, approved.text


@pytest.mark.http
async def test_over_http_bad_requests_get_problems_never_500(api):
    product = await http_product(api)
    _, maker = await api.new_user("loan_officer")
    account = await api.funded_account("10.00")
    body = {
        "customer_id": account["customer_id"],
        "product_id": product["product_id"],
        "deposit_account_id": account["account_id"],
        "amount": http_money("100.001"),
        "installments": 12,
    }
    assert (await api.http.post("/loans", headers=maker, json=body)).status_code == 422
    body["amount"] = http_money("50.00")
    assert_problem(await api.http.post("/loans", headers=maker, json=body), 422, "invalid_input")
    missing = f"/loans/{uuid4()}"
    assert_problem(await api.http.get(missing, headers=maker), 404, "not_found")
    no_key = await api.http.post(
        f"{missing}/repay", headers=maker, json={"amount": http_money("1.00")}
    )
    assert no_key.status_code == 422
    loan, _ = await http_apply(api, maker, product)
    quote = await api.http.get(f"/loans/{loan['loan_id']}/payoff", headers=maker)
    assert 400 <= quote.status_code < 500, quote.text
    assert (
        await api.http.get("/loans", params={"cursor": "not-a-cursor"}, headers=maker)
    ).status_code == 400


# --- migration 0007 over a ledger that holds money -----------------------------------------------


@pytest.fixture
def own_url(backend: str, request: pytest.FixtureRequest) -> str:
    """An empty database of this test's own, on the backend under test."""
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    )
    return url


async def account_rows(bank: Nexum) -> list[tuple[Any, ...]]:
    async def read(uow: Any) -> list[tuple[Any, ...]]:
        rows = await uow.connection.execute(
            select(
                accounts.c.id, accounts.c.kind, accounts.c.posted_minor, accounts.c.line_seq
            ).order_by(accounts.c.id)
        )
        return [tuple(row) for row in rows]

    return await bank.storage.read(read)


async def test_migration_0007_goes_down_and_up_keeping_accounts_and_refuses_with_loans(
    own_url,
):
    """Down to 0006 and up again keeps every account, balance and line (SQLite rebuilds the
    accounts table for the new kind); once a loan account exists, 0007 refuses to go down."""
    migrate(own_url)
    clock = FakeClock(business_date=DISBURSED_ON)
    bank = build(settings_for(own_url), clock=clock)
    try:
        await funded_account(bank, "125.00")
        await funded_account(bank, "7.50")
        before = await account_rows(bank)
    finally:
        await bank.aclose()

    manager = MigrationManager(own_url)
    since_loans = list(REVISIONS[REVISIONS.index("0007_loans") :])
    assert manager.migrate_down("0006_deposit_interest") == since_loans[::-1]
    assert manager.migrate_up() == since_loans

    bank = build(settings_for(own_url), clock=clock)
    try:
        assert await account_rows(bank) == before
        assert (await verify_ledger(bank.storage)).violations == []
        loan, _ = await disbursed(bank, clock, await loan_product(bank))
        await assert_ledger_holds(bank, loan)
    finally:
        await bank.aclose()
    manager.migrate_down("0007_loans")  # the later ones: nothing of the loans
    with pytest.raises(Exception, match="loan accounts exist"):
        manager.migrate_down("0006_deposit_interest")


async def test_verify_finds_a_loan_whose_ledger_and_installments_disagree(own_url):
    migrate(own_url)
    clock = FakeClock()
    bank = build(settings_for(own_url), clock=clock)
    try:
        loan, _ = await disbursed(bank, clock, await loan_product(bank))
        assert (await verify_ledger(bank.storage)).violations == []
        async with bank.storage.engine.begin() as conn:
            await conn.execute(
                update(loan_installments)
                .where(loan_installments.c.loan_id == loan.id, loan_installments.c.number == 1)
                .values(principal_paid_minor=1)
            )
        report = await verify_ledger(bank.storage)
        # SQLite keeps a UUID as 32 hex digits
        shown = loan.id.hex if bank.storage.engine.dialect.name == "sqlite" else loan.id
        assert [(v.check, v.detail) for v in report.violations] == [
            (
                "loan_principal",
                f"loan {shown}'s ledger account holds 120000"
                " but its installments have 119999 outstanding",
            )
        ]
    finally:
        await bank.aclose()


def test_a_loan_entry_nets_each_account_to_one_leg_and_drops_zeroes():
    deposit, loan_account = uuid4(), uuid4()
    entry = LoanEntry("USD")
    entry.debit(deposit, 100_00, AccountKind.DEPOSIT)
    entry.debit_gl(GLCode.LOAN_CREDITS, 30_00)
    entry.credit(loan_account, 100_00, AccountKind.LOAN)
    entry.credit_gl(GLCode.LOAN_CREDITS, 10_00)
    entry.credit(deposit, 20_00, AccountKind.DEPOSIT)
    entry.credit_gl(GLCode.FEE_INCOME, 0)
    assert [
        (leg.account_id, leg.side.value, leg.amount_minor, leg.enforce_funds)
        for leg in entry.legs()
    ] == [
        (deposit, "D", 80_00, True),
        (gl_account_id(GLCode.LOAN_CREDITS, "USD"), "D", 20_00, False),
        (loan_account, "C", 100_00, False),
    ]
    with pytest.raises(InvariantViolation):
        entry.credit(loan_account, -1)


async def test_verify_finds_interest_receivable_that_the_loans_do_not_owe(own_url):
    migrate(own_url)
    clock = FakeClock()
    bank = build(settings_for(own_url), clock=clock)
    try:
        loan, _ = await disbursed(bank, clock, await loan_product(bank))
        first = (await installments_of(bank, loan))[0]
        await run_loans_due(bank, clock, first.due_date)  # bills its 12.00 of interest
        assert (await verify_ledger(bank.storage)).violations == []
        async with bank.storage.engine.begin() as conn:
            await conn.execute(
                update(loan_installments)
                .where(loan_installments.c.loan_id == loan.id, loan_installments.c.number == 1)
                .values(interest_paid_minor=2_00)
            )
        report = await verify_ledger(bank.storage)
        assert [(v.check, v.detail) for v in report.violations] == [
            ("loan_receivables", "GL 1210 in USD holds 1200 but the loans owe 1000 on it")
        ]
    finally:
        await bank.aclose()
