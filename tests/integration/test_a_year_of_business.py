"""A whole year of a small bank, day by day over a virtual clock, on SQLite and PostgreSQL.

Every day the customers do what customers do -- a saver pays in each month, one borrower
repays on time, another pays late and then stops -- and the close of business runs for the
day: interest accrues and posts at each month end, installments fall due, late fees are
charged, loans go delinquent. Then a write-off, and at the year end:

* every one of the 365 business dates closed once, in order (a second run replays);
* the saver's interest is exactly what a plain day-by-day computation here says (the
  closing balance of each day at 3 % Actual/365, four decimals half to even, posted at each
  month end in whole cents toward zero, the residue carried), and it was debited to the
  bank's interest expense;
* a term deposit rolled over every three months holds exactly its principal and the interest
  a plain model of its terms says (4 %, posted at each maturity, compounding into the next
  term, the residue carried), and one placed for six months was paid out with its interest
  into its customer's account at the close of the day before its maturity;
* the punctual loan is paid off, its ledger balance zero; the late one was charged its late
  fee once, went delinquent, and was written off to the loss account for exactly the
  principal it still owed;
* ``nexum verify`` finds nothing wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from uuid import UUID

import pytest

from conftest import settings_for
from core_banking.bootstrap import Nexum, build
from core_banking.domain.accounts import Account, ProductType
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.commands import Deposit, OpenAccount, RequestContext
from core_banking.domain.lending.catalog import ProductKind
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.deposit_products import (
    DepositTerm,
    InterestPostingFrequency,
    MaturityAction,
    TermUnit,
)
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.loan_status import LoanStatus
from core_banking.domain.lending.rates import Compounding, FixedRate
from core_banking.domain.lending.term_deposits import TermDepositStatus
from core_banking.domain.money import Money
from core_banking.services.loans import DisburseLoan, OriginateLoan, RepayLoan, WriteOffLoan
from core_banking.services.term_deposits import OpenTermDeposit
from core_banking.storage.verification import verify_ledger
from support.banking import CONTEXT, FakeClock, key, money, new_customer
from support.databases import migrate
from support.products import create_product, deposit_terms, loan_terms, term_deposit_terms

pytestmark = pytest.mark.slow

FIRST_DAY = date(2025, 1, 1)
DAYS = 365
SAVER_RATE = Decimal("0.03")
MONTHLY_SAVING = Decimal("500.00")
TERM_DEPOSIT_RATE = Decimal("0.04")
ROLLING_PLACED_ON = date(2025, 1, 15)
ROLLING_AMOUNT = Decimal("4000.00")
PAID_OUT_PLACED_ON = date(2025, 3, 1)
PAID_OUT_AMOUNT = Decimal("2000.00")
SAVER_OF_TERMS_FUNDS = Decimal("7000.00")
LATE_FEE = Decimal("25.00")
LATE_FEE_GRACE_DAYS = 5
GRACE_AND_A_DAY = timedelta(days=LATE_FEE_GRACE_DAYS + 1)
"""A late fee is charged by the close of business of the first day more than the grace days
past due (docs/loans.md)."""
APPROVER = RequestContext(actor="checker")
CLOSER = RequestContext(actor="close-of-business")


@dataclass
class Bank:
    nexum: Nexum
    clock: FakeClock
    saver: Account
    placer: Account
    rolling: UUID | None = None
    paid_out: UUID | None = None
    punctual: UUID = field(init=False)
    late: UUID = field(init=False)


async def test_a_year_of_daily_close_of_business(own_url: str) -> None:
    migrate(own_url)
    clock = FakeClock(moment=datetime.combine(FIRST_DAY, time(9), tzinfo=UTC))
    nexum = build(settings_for(own_url), clock=clock)
    try:
        bank = await _open_the_bank(nexum, clock)
        written_off_on: date | None = None
        written_off_loss = 0
        expected_saver = SaverModel()
        rolling = TermDepositModel(ROLLING_PLACED_ON, 3, pays_out=False)
        paid_out = TermDepositModel(PAID_OUT_PLACED_ON, 6, pays_out=True)
        for offset in range(DAYS):
            day = FIRST_DAY + timedelta(days=offset)
            clock.moment = datetime.combine(day, time(10), tzinfo=UTC)
            await _customers_day(bank, day, expected_saver)
            await _place_term_deposits(bank, day, rolling, paid_out)
            if written_off_on is None and await _past_due_days(bank, bank.late) > 90:
                loan = await nexum.loans.get(bank.late)
                assert loan.status is LoanStatus.DELINQUENT
                # the loss: the principal still owed, and the late fees and the interest
                # billed that were never paid
                written_off_loss = await _balance(nexum, loan.account_id) + sum(
                    i.penalty_minor
                    - i.penalty_paid_minor
                    + (i.interest_minor - i.interest_paid_minor if i.interest_billed_on else 0)
                    for i in (await nexum.loans.schedule(bank.late)).installments
                )
                written_off_on = day
                await nexum.loans.write_off(
                    WriteOffLoan(bank.late, "90 days past due", key()), CONTEXT
                )
            clock.moment = datetime.combine(day, time(23, 30), tzinfo=UTC)
            run = await nexum.close_of_business.run(day, CLOSER)
            assert not run.replayed
            expected_saver.close(day)
            rolling.close(day)
            paid_out.close(day)

        # every date closed once, in order: running one again changes nothing
        again = await nexum.close_of_business.run(FIRST_DAY + timedelta(days=DAYS - 1), CLOSER)
        assert again.replayed

        # the saver's interest, to the cent, and the expense it is to the bank
        saver = await nexum.accounts.get(bank.saver.id)
        assert saver.posted_minor == expected_saver.balance_minor
        assert expected_saver.interest_minor > 0
        assert await _balance(nexum, gl_account_id(GLCode.INTEREST_EXPENSE, "USD")) == (
            expected_saver.interest_minor + rolling.interest_minor + paid_out.interest_minor
        )

        # the term deposits: one rolled over each quarter, one paid out after six months
        assert bank.rolling is not None
        assert bank.paid_out is not None
        held = await nexum.term_deposits.get(bank.rolling)
        assert (held.deposit.status, held.deposit.term_number) == (TermDepositStatus.ACTIVE, 4)
        assert held.deposit.maturity_date == date(2026, 1, 15)
        assert held.account.posted_minor == rolling.balance_minor
        assert rolling.interest_minor > 0
        done = await nexum.term_deposits.get(bank.paid_out)
        assert (done.deposit.status, done.deposit.closed_on) == (
            TermDepositStatus.PAID_OUT,
            date(2025, 8, 31),
        )
        assert await _balance(nexum, bank.placer.id) == int(
            (SAVER_OF_TERMS_FUNDS - ROLLING_AMOUNT - PAID_OUT_AMOUNT + paid_out.paid) * 100
        )

        # the punctual loan is repaid; the late one paid its fee once and was written off
        punctual = await nexum.loans.get(bank.punctual)
        assert punctual.status is LoanStatus.PAID_OFF
        assert await _balance(nexum, punctual.account_id) == 0
        late = await nexum.loans.get(bank.late)
        assert late.status is LoanStatus.WRITTEN_OFF
        assert written_off_on is not None
        assert await _balance(nexum, late.account_id) == 0
        assert await _balance(nexum, gl_account_id(GLCode.LOAN_LOSS_EXPENSE, "USD")) == (
            written_off_loss
        )
        # one late fee per installment more than the grace days overdue before the write-off:
        # the second (paid ten days late) and each unpaid one; never the first, never twice
        fee = Money.parse(str(LATE_FEE), "USD").minor
        charged = {
            i.number: i.penalty_minor for i in (await nexum.loans.schedule(bank.late)).installments
        }
        assert charged == {
            i.number: fee if i.number >= 2 and i.due_date + GRACE_AND_A_DAY < written_off_on else 0
            for i in (await nexum.loans.schedule(bank.late)).installments
        }

        assert (await verify_ledger(nexum.storage)).violations == []
    finally:
        await nexum.aclose()


# --- the bank and its customers -----------------------------------------------------------


async def _open_the_bank(nexum: Nexum, clock: FakeClock) -> Bank:
    savings = await create_product(
        nexum,
        terms=deposit_terms(
            rate=FixedRate(SAVER_RATE),
            day_count=DayCount.ACTUAL_365_FIXED,
            posting_frequency=InterestPostingFrequency.MONTHLY,
        ),
        active=True,
    )
    lending = await create_product(
        nexum,
        kind=ProductKind.TERM_LOAN,
        terms=loan_terms(
            late_fee=FeeRule.fixed(Money.parse(str(LATE_FEE), "USD").minor),
            late_fee_grace_days=LATE_FEE_GRACE_DAYS,
        ),
        active=True,
    )
    saver = await nexum.accounts.open(
        OpenAccount(
            (await new_customer(nexum, "Sam")).id,
            None,
            "USD",
            "Savings",
            product_id=savings.product.product_id,
        ),
        CONTEXT,
    )
    placer = await nexum.accounts.open(
        OpenAccount((await new_customer(nexum, "Tess")).id, ProductType.CHECKING, "USD", "Main"),
        CONTEXT,
    )
    await nexum.ledger.deposit(Deposit(placer.id, money(str(SAVER_OF_TERMS_FUNDS)), key()), CONTEXT)
    bank = Bank(nexum, clock, saver, placer)
    bank.punctual = await _lend(nexum, lending.product.product_id, "Pat", "6000.00")
    bank.late = await _lend(nexum, lending.product.product_id, "Lee", "3000.00")
    return bank


async def _place_term_deposits(
    bank: Bank, day: date, rolling: TermDepositModel, paid_out: TermDepositModel
) -> None:
    """Tess places 4,000.00 for three months, rolled over, and 2,000.00 for six, paid out."""
    for placed_on, amount, months, action, model in (
        (ROLLING_PLACED_ON, ROLLING_AMOUNT, 3, MaturityAction.ROLLOVER, rolling),
        (PAID_OUT_PLACED_ON, PAID_OUT_AMOUNT, 6, MaturityAction.PAYOUT, paid_out),
    ):
        if day != placed_on:
            continue
        product = await create_product(
            bank.nexum,
            name=f"{months} months",
            terms=term_deposit_terms(
                term=DepositTerm(months, TermUnit.MONTHS),
                action=action,
                rate=FixedRate(TERM_DEPOSIT_RATE),
                compounding=Compounding.AT_POSTING,
            ),
            active=True,
        )
        deposit = await bank.nexum.term_deposits.open(
            OpenTermDeposit(
                customer_id=_customer_of(bank.placer),
                product_id=product.product.product_id,
                amount=money(str(amount)),
                funding_account_id=bank.placer.id,
                idempotency_key=key(),
            ),
            CONTEXT,
        )
        model.balance = amount
        if action is MaturityAction.ROLLOVER:
            bank.rolling = deposit.account_id
        else:
            bank.paid_out = deposit.account_id


def _customer_of(account: Account) -> UUID:
    assert account.customer_id is not None
    return account.customer_id


async def _lend(nexum: Nexum, product_id: UUID, name: str, amount: str) -> UUID:
    """A 10-month loan for a new customer, approved by a second person and paid out into a
    checking account that holds a little for the repayments."""
    customer = await new_customer(nexum, name)
    account = await nexum.accounts.open(
        OpenAccount(customer.id, ProductType.CHECKING, "USD", "Checking"), CONTEXT
    )
    await nexum.ledger.deposit(Deposit(account.id, money("200.00"), key()), CONTEXT)
    loan = await nexum.loans.originate(
        OriginateLoan(customer.id, product_id, account.id, money(amount), 10), CONTEXT
    )
    await nexum.loans.approve(loan.id, APPROVER, None)
    await nexum.loans.disburse(DisburseLoan(loan.id, key()), CONTEXT)
    return loan.id


async def _customers_day(bank: Bank, day: date, saver: SaverModel) -> None:
    nexum = bank.nexum
    if day.day == 1:
        await nexum.ledger.deposit(
            Deposit(bank.saver.id, money(str(MONTHLY_SAVING)), key()), CONTEXT
        )
        saver.deposit(MONTHLY_SAVING)
    await _repay_what_is_due(nexum, bank.punctual, day, delay_days=0)
    # the late borrower: the first installment on time, the second ten days late, then no more
    late = await nexum.loans.schedule(bank.late)
    for installment in late.installments[:2]:
        delay = 0 if installment.number == 1 else 10
        if day == installment.due_date + timedelta(days=delay):
            await _repay(nexum, bank.late, installment.number)


async def _repay_what_is_due(nexum: Nexum, loan_id: UUID, day: date, delay_days: int) -> None:
    schedule = await nexum.loans.schedule(loan_id)
    for installment in schedule.installments:
        if day == installment.due_date + timedelta(days=delay_days):
            await _repay(nexum, loan_id, installment.number)


async def _repay(nexum: Nexum, loan_id: UUID, number: int) -> None:
    """Pay installment ``number`` in full, with any late fee on it: the borrower tops the
    account up first."""
    schedule = await nexum.loans.schedule(loan_id)
    installment = next(i for i in schedule.installments if i.number == number)
    amount = Money.of(installment.unpaid().total_minor, "USD")
    await nexum.ledger.deposit(Deposit(schedule.loan.deposit_account_id, amount, key()), CONTEXT)
    await nexum.loans.repay(RepayLoan(loan_id, amount, key()), CONTEXT)


async def _past_due_days(bank: Bank, loan_id: UUID) -> int:
    loan = await bank.nexum.loans.get(loan_id)
    return loan.days_past_due if loan.status is LoanStatus.DELINQUENT else 0


async def _balance(nexum: Nexum, account_id: UUID | None) -> int:
    assert account_id is not None
    account = await nexum.accounts.get(account_id)
    return abs(account.posted_minor)


# --- the saver's interest, worked out plainly ----------------------------------------------


@dataclass
class SaverModel:
    """The saver's balance and interest, day by day: each day's closing balance earns
    ``balance x 3 % / 365`` at four decimals (half to even); at a month's end the month's
    accruals and the carried residue are paid in whole cents (toward zero)."""

    balance: Decimal = Decimal("0.00")
    accrued: Decimal = Decimal("0")
    residue: Decimal = Decimal("0")
    interest: Decimal = Decimal("0.00")

    def deposit(self, amount: Decimal) -> None:
        self.balance += amount

    def close(self, day: date) -> None:
        daily = (self.balance * SAVER_RATE / 365).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_EVEN
        )
        self.accrued += daily
        if (day + timedelta(days=1)).day == 1:  # the month's last day
            due = self.accrued + self.residue
            paid = due.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
            self.residue = due - paid
            self.accrued = Decimal("0")
            self.balance += paid
            self.interest += paid

    @property
    def balance_minor(self) -> int:
        return int(self.balance * 100)

    @property
    def interest_minor(self) -> int:
        return int(self.interest * 100)


@dataclass
class TermDepositModel:
    """A term deposit, day by day: each day of a term its closing balance earns
    ``balance x 4 % / 365`` at four decimals (half to even); on a term's last day (the day
    before the maturity date, each maturity so many months after the first start) the
    term's accruals and the carried residue are paid in whole cents (toward zero) into it;
    then a deposit that ``pays_out`` pays its whole balance out (``paid``) and earns no
    more, the other begins its next term."""

    start: date
    months: int
    pays_out: bool
    balance: Decimal = Decimal("0.00")
    accrued: Decimal = Decimal("0")
    residue: Decimal = Decimal("0")
    interest: Decimal = Decimal("0.00")
    paid: Decimal = Decimal("0.00")
    terms_ended: int = 0

    def close(self, day: date) -> None:
        if not self.balance or day < self.start:
            return
        self.accrued += (self.balance * TERM_DEPOSIT_RATE / 365).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_EVEN
        )
        maturity = _months_after(self.start, self.months * (self.terms_ended + 1))
        if day + timedelta(days=1) != maturity:
            return
        due = self.accrued + self.residue
        paid = due.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        self.residue = due - paid
        self.accrued = Decimal("0")
        self.balance += paid
        self.interest += paid
        self.terms_ended += 1
        if self.pays_out:
            self.paid, self.balance = self.balance, Decimal(0)

    @property
    def balance_minor(self) -> int:
        return int(self.balance * 100)

    @property
    def interest_minor(self) -> int:
        return int(self.interest * 100)


def _months_after(start: date, months: int) -> date:
    """Every start here is on the 1st or the 15th, which every month has."""
    month_index = start.month - 1 + months
    return start.replace(year=start.year + month_index // 12, month=month_index % 12 + 1)


@pytest.fixture
def own_url(backend: str, request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    )
    return url
