"""Hundreds of random loans through the real loan service on SQLite, checked after every step.

Hypothesis draws a product (method, frequency, day count, rate, grace, overpayment policy,
prepayment strategy), a loan (amount, term) and a run of payments (repayments of random
sizes on random installment dates, some above what is payable, a prepayment, a payoff),
then:

* the principal parts of the schedule, prepayments included, add up to the loan amount;
* no payment loses or invents a cent: what left the deposit account is exactly what the
  installments record as paid plus the credit kept for the borrower;
* the loan's ledger account holds exactly the principal outstanding, and interest and fees
  receivable exactly what the loans owe on them, after every step (with or without the close
  of business billing interest and charging late fees in between);
* a refused overpayment changes nothing, and a payoff takes exactly its quote;
* and at the end ``verify_ledger`` finds the whole ledger balanced and consistent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from conftest import settings_for
from core_banking.bootstrap import Nexum, build
from core_banking.domain.commands import RequestContext
from core_banking.domain.errors import DomainError
from core_banking.domain.lending.allocation import OverpaymentPolicy
from core_banking.domain.lending.catalog import ProductKind
from core_banking.domain.lending.dates import RepaymentFrequency
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.errors import OverpaymentRefused
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.loan_products import (
    AmortizationMethod,
    GracePeriods,
    PrepaymentStrategy,
)
from core_banking.domain.lending.loans import Installment, Loan
from core_banking.domain.money import Money
from core_banking.services.loans import (
    DisburseLoan,
    OriginateLoan,
    PayOffLoan,
    PrepayLoan,
    RepayLoan,
)
from core_banking.services.loans_due import LoansDueStep
from core_banking.storage.schema import journal_lines, loan_prepayments
from core_banking.storage.verification import verify_ledger
from support.banking import FakeClock, funded_account, key
from support.databases import migrate, sqlite_url
from support.products import create_product, loan_terms

T = TypeVar("T")
MAKER = RequestContext(actor="user:property-maker")
CHECKER = RequestContext(actor="user:property-checker")
START = date(2026, 3, 10)
LEDGER_CHECKS = ("currency_totals", "loan_principal", "loan_receivables")


@dataclass(frozen=True)
class LoanCase:
    method: AmortizationMethod
    frequency: RepaymentFrequency
    day_count: DayCount
    annual_rate: Decimal
    principal_periods: int
    interest_periods: int
    overpayment: OverpaymentPolicy
    strategy: PrepaymentStrategy
    amount_minor: int
    installments: int
    payments: tuple[tuple[int, int, int], ...]
    """(installment whose due date to pay on, share of what is payable in per mille: 1000
    pays it exactly, above is an overpayment; days after that due date)."""
    prepay_per_mille: int
    early_repayment_fee: FeeRule | None
    close_business: bool
    """Run the close of business (interest billing, ageing, late fees) on each payment
    date before paying."""
    pay_off_after_days: int | None
    """Pay the loan off this many days after the last payment, if it is still open."""


@st.composite
def loan_cases(draw: st.DrawFn) -> LoanCase:
    installments = draw(st.integers(3, 12))
    principal_periods = draw(st.integers(0, min(2, installments - 1)))
    return LoanCase(
        method=draw(st.sampled_from(AmortizationMethod)),
        frequency=draw(st.sampled_from(RepaymentFrequency)),
        day_count=draw(st.sampled_from(DayCount)),
        annual_rate=Decimal(draw(st.integers(0, 3600))) / 10_000,
        principal_periods=principal_periods,
        interest_periods=draw(st.integers(0, principal_periods)),
        overpayment=draw(st.sampled_from(OverpaymentPolicy)),
        strategy=draw(st.sampled_from(PrepaymentStrategy)),
        amount_minor=draw(st.one_of(st.integers(1, 500), st.integers(100_00, 30_000_00))),
        installments=installments,
        payments=tuple(
            draw(
                st.lists(
                    st.tuples(
                        st.integers(0, installments),
                        st.one_of(st.just(1000), st.integers(1, 999), st.integers(1001, 1500)),
                        st.sampled_from([0, 0, 3, 10]),
                    ),
                    max_size=8,
                )
            )
        ),
        prepay_per_mille=draw(st.integers(0, 999)),
        early_repayment_fee=draw(
            st.sampled_from([None, FeeRule.percent(Decimal("0.01")), FeeRule.fixed(5_00)])
        ),
        pay_off_after_days=draw(st.none() | st.integers(0, 40)),
        close_business=draw(st.booleans()),
    )


@dataclass
class Harness:
    bank: Nexum
    clock: FakeClock
    loop: asyncio.AbstractEventLoop

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """One bank for every random loan. When they are all done, the whole ledger verifies:
    every balance recomputed from its lines, every entry balanced, every chain intact (a
    failure here is reported as an error in the test's teardown)."""
    url = sqlite_url(tmp_path_factory.mktemp("loan-properties"))
    migrate(url)
    loop = asyncio.new_event_loop()
    clock = FakeClock()
    bank = build(settings_for(url), clock=clock)
    try:
        harness = Harness(bank, clock, loop)
        yield harness
        report = harness.run(verify_ledger(bank.storage))
        assert report.counts["entries"] > 200
        assert report.violations == []
    finally:
        loop.run_until_complete(bank.aclose())
        loop.close()


@pytest.mark.slow
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=loan_cases())
def test_random_loans_keep_every_cent_and_the_ledger_right(harness: Harness, case: LoanCase):
    harness.run(check_loan(harness.bank, harness.clock, case))


async def check_loan(bank: Nexum, clock: FakeClock, case: LoanCase) -> None:
    clock.business_date = START
    loan, deposit_id = await disbursed_loan(bank, case)
    start_balance = await balance(bank, deposit_id)
    await check_step(bank, loan, deposit_id, start_balance, case)

    for index, per_mille, late_days in sorted(case.payments):
        loan = await bank.loans.get(loan.id)
        installments = (await bank.loans.schedule(loan.id)).installments
        if loan.status.value not in ("active", "delinquent") or index >= len(installments):
            break
        clock.business_date = installments[index].due_date + timedelta(days=late_days)
        if case.close_business:
            await LoansDueStep(bank.storage, clock).run(clock.business_date, ignore_progress)
            event("close of business")
        payable = payable_now(installments, clock.business_date)
        amount = payable * per_mille // 1000
        if amount <= 0:
            continue
        before = await balance(bank, deposit_id)
        try:
            paid = await bank.loans.repay(RepayLoan(loan.id, Money.of(amount, "USD"), key()), MAKER)
            event(f"repayment, loan {paid.loan.status.value}")
            if paid.loan.credit_minor:
                event("overpayment kept as a credit")
        except OverpaymentRefused:
            event("overpayment refused")
            assert case.overpayment is OverpaymentPolicy.REFUSE
            assert amount + loan.credit_minor > payable
            assert await balance(bank, deposit_id) == before
        await check_step(bank, loan, deposit_id, start_balance, case)

    loan = await bank.loans.get(loan.id)
    if loan.status.value == "active" and case.prepay_per_mille:
        outstanding = await balance(bank, loan.account_id)
        principal = outstanding * case.prepay_per_mille // 1000
        if principal > 0:
            # refused whole when something is due or the next installment was paid ahead
            with contextlib.suppress(DomainError):
                await bank.loans.prepay(
                    PrepayLoan(loan.id, Money.of(principal, "USD"), key()), MAKER
                )
                event(f"prepayment, {case.strategy.value}")
            await check_step(bank, loan, deposit_id, start_balance, case)

    loan = await bank.loans.get(loan.id)
    if loan.status.value in ("active", "delinquent") and case.pay_off_after_days is not None:
        clock.business_date = clock.today() + timedelta(days=case.pay_off_after_days)
        quote = await bank.loans.payoff_quote(loan.id)
        before = await balance(bank, deposit_id)
        paid = await bank.loans.pay_off(PayOffLoan(loan.id, key()), MAKER)
        event("payoff")
        assert paid.loan.status.value == "paid_off"
        assert before - await balance(bank, deposit_id) == quote.total_minor
        # the fee is the one part of a payoff the installments do not record
        fee = quote.early_repayment_fee_minor
        await check_step(bank, loan, deposit_id, start_balance - fee, case)


async def disbursed_loan(bank: Nexum, case: LoanCase) -> tuple[Loan, Any]:
    record = await create_product(
        bank,
        ProductKind.TERM_LOAN,
        name="Random loan",
        active=True,
        terms=loan_terms(
            annual_rate=case.annual_rate,
            day_count=case.day_count,
            method=case.method,
            frequency=case.frequency,
            min_amount_minor=1,
            max_amount_minor=30_000_00,
            min_installments=3,
            max_installments=18,
            grace=GracePeriods(case.principal_periods, case.interest_periods),
            overpayment_policy=case.overpayment,
            prepayment_strategy=case.strategy,
            early_repayment_fee=case.early_repayment_fee,
        ),
    )
    funds = Money.of(3 * case.amount_minor + 2000_00, "USD")  # late fees included
    account = await funded_account(bank, funds.amount_string())
    assert account.customer_id is not None
    loan = await bank.loans.originate(
        OriginateLoan(
            account.customer_id,
            record.product.product_id,
            account.id,
            Money.of(case.amount_minor, "USD"),
            case.installments,
        ),
        MAKER,
    )
    await bank.loans.approve(loan.id, CHECKER, None)
    operation = await bank.loans.disburse(DisburseLoan(loan.id, key()), MAKER)
    return operation.loan, account.id


def ignore_progress(done: int, total: int) -> None:
    return None


def payable_now(installments: tuple[Installment, ...], on: date) -> int:
    """What a repayment on ``on`` may pay, as a borrower reads the schedule: everything due
    by then and the next installment."""
    unpaid = [i for i in installments if paid_short(i) > 0]
    due = [i for i in unpaid if i.due_date <= on]
    ahead = [i for i in unpaid if i.due_date > on][:1]
    return sum(paid_short(i) for i in due + ahead)


def paid_short(installment: Installment) -> int:
    return (
        installment.principal_minor
        - installment.principal_paid_minor
        + installment.interest_minor
        - installment.interest_paid_minor
        + installment.penalty_minor
        - installment.penalty_paid_minor
    )


async def balance(bank: Nexum, account_id: Any) -> int:
    return (await bank.accounts.get(account_id)).posted_minor


async def check_step(
    bank: Nexum, loan: Loan, deposit_id: Any, start_balance: int, case: LoanCase
) -> None:
    current = await bank.loans.get(loan.id)
    installments = (await bank.loans.schedule(loan.id)).installments
    prepaid = await prepaid_principal(bank, loan)
    # the principal parts add up to the loan amount
    assert sum(i.principal_minor for i in installments) + prepaid == case.amount_minor
    # the ledger account holds the principal outstanding
    outstanding = sum(i.principal_minor - i.principal_paid_minor for i in installments)
    assert await balance(bank, current.account_id) == outstanding
    # not a cent lost or invented: what left the deposit account is what was paid, plus
    # the credit kept (prepayments pay their principal, interest and fee on top)
    paid = sum(
        i.principal_paid_minor + i.interest_paid_minor + i.penalty_paid_minor for i in installments
    )
    taken = start_balance - await balance(bank, deposit_id)
    assert taken == paid + current.credit_minor + await prepaid_total(bank, loan)
    # the ledger balances, and the loans' receivables are on their GL accounts
    assert (await verify_ledger(bank.storage, LEDGER_CHECKS)).violations == []
    if current.status.value == "paid_off":
        assert (outstanding, current.credit_minor) == (0, 0)


async def prepaid_principal(bank: Nexum, loan: Loan) -> int:
    return sum(p.principal_minor for p in await prepayments(bank, loan))


async def prepaid_total(bank: Nexum, loan: Loan) -> int:
    """What the prepayments took: their principal, the interest they settled, the fee."""
    entries = await prepayment_debits(bank, loan)
    return sum(entries)


async def prepayments(bank: Nexum, loan: Loan) -> list[Any]:
    return await bank.storage.read(lambda uow: uow.loans.prepayments(loan.id))


async def prepayment_debits(bank: Nexum, loan: Loan) -> list[int]:
    """The deposit account's debit in each of the loan's prepayment entries."""

    async def work(uow: Any) -> list[int]:
        rows = await uow.connection.execute(
            select(journal_lines.c.amount_minor)
            .join(loan_prepayments, loan_prepayments.c.entry_id == journal_lines.c.entry_id)
            .where(
                loan_prepayments.c.loan_id == loan.id,
                journal_lines.c.account_id == loan.deposit_account_id,
            )
        )
        return [row.amount_minor for row in rows]

    return await bank.storage.read(work)
