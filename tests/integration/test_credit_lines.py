"""Credit lines through the services and the close of business, on SQLite and PostgreSQL:
opening from a product, draws within and over the limit, payments in the order fees,
interest, principal, a month and more of daily interest checked against a plainly written
computation here, statements that agree with the ledger to the minor unit, overdue minimums
with their late fee charged once, reruns of a date that change nothing, and `nexum verify`.

The close-of-business tests run on a database of their own: the steps work on every line in
the database, and the general ledger's totals must be this test's lines alone.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import BigInteger, Integer, bindparam, text

from conftest import settings_for
from core_banking.bootstrap import Nexum, build, credit_line_steps
from core_banking.domain.accounts import Account
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.commands import Deposit, Reverse
from core_banking.domain.errors import (
    CurrencyMismatch,
    InvalidAmount,
    InvalidTransition,
    WrongAccountKind,
)
from core_banking.domain.lending.catalog import ProductKind
from core_banking.domain.lending.credit_line_accounts import (
    CreditLine,
    CreditLineStatement,
    CreditLineStatus,
    StatementStatus,
)
from core_banking.domain.lending.credit_line_products import MinimumPaymentRule
from core_banking.domain.lending.errors import (
    CreditLimitExceeded,
    OverpaymentRefused,
    ProductNotActive,
    WrongProductKind,
)
from core_banking.domain.lending.fees import FeeRule
from core_banking.services.credit_lines import DrawOnCreditLine, OpenCreditLine, PayCreditLine
from core_banking.storage import create_storage
from core_banking.storage.credit_line_sql import define_functions
from core_banking.storage.types import EXACT_DECIMAL
from core_banking.storage.verification import verify_ledger
from support.banking import CONTEXT, FakeClock, key, money, new_account, new_customer
from support.databases import migrate
from support.products import create_product, credit_line_terms

OPENED = date(2026, 1, 10)
FIRST_STATEMENT = date(2026, 1, 25)
SECOND_STATEMENT = date(2026, 2, 25)
FIRST_DUE = date(2026, 2, 15)  # 21 days' grace after 25 January

# --- the independent computation ------------------------------------------------------------


def daily_interest(balance_minor: int) -> Fraction:
    """One day at 18 % a year, Actual/365 (Fixed), in dollars, rounded half to even to four
    decimals (NEXUM_INTEREST_CALCULATION_PRECISION's default). Python rounds a Fraction half
    to even exactly."""
    return round(Fraction(balance_minor, 100) * Fraction(18, 100) / 365, 4)


def billed(balances: dict[date, int], residue: Fraction) -> tuple[int, Fraction]:
    """The cents a statement bills for the days' closing balances, and the residue carried."""
    accrued = sum((daily_interest(balance) for balance in balances.values()), Fraction(0))
    total = accrued + residue
    cents = math.floor(total * 100)
    return cents, total - Fraction(cents, 100)


def minimum(closing_minor: int) -> int:
    """5 % of the closing balance rounded up to the cent, at least 25.00, at most the balance."""
    return min(closing_minor, max(25_00, math.ceil(Fraction(closing_minor * 5, 100))))


def daily_balances(start: date, end: date, changes: dict[date, int]) -> dict[date, int]:
    """The closing balance of every day from ``start`` to ``end``, from the changes dated
    each day (the balance before ``start`` is the first change's base: 0)."""
    balances, balance, day = {}, 0, start
    while day <= end:
        balance += changes.get(day, 0)
        balances[day] = balance
        day += timedelta(days=1)
    return balances


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def own_url(backend: str, request: pytest.FixtureRequest) -> str:
    """A migrated database of this test's own, on the backend under test."""
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    )
    migrate(url)
    return url


@pytest.fixture
async def own_bank(own_url: str, clock: FakeClock) -> AsyncIterator[Nexum]:
    """A bank on a database of this test's own."""
    url = own_url
    storage = create_storage(url)
    try:
        yield build(settings_for(url), storage=storage, clock=clock)
    finally:
        await storage.dispose()


def line_terms(**changes: Any) -> dict[str, Any]:
    return credit_line_terms(
        **{
            "max_limit_minor": 10_000_00,
            "annual_rate": Decimal("0.18"),
            "statement_day": 25,
            "minimum_payment": MinimumPaymentRule(Decimal("0.05"), 25_00),
            "grace_days": 21,
            "late_fee": FeeRule.fixed(35_00),
            **changes,
        }
    )


@dataclass
class Borrower:
    line: CreditLine
    account: Account


async def open_line(
    bank: Nexum, product_id: UUID, limit: str = "5000.00", funds: str = "1000.00"
) -> Borrower:
    """A customer with a funded deposit account and a credit line drawing into it."""
    customer = await new_customer(bank)
    account = await new_account(bank, customer=customer)
    if funds != "0.00":
        await bank.ledger.deposit(Deposit(account.id, money(funds), key()), CONTEXT)
    line = await bank.credit_lines.open(
        OpenCreditLine(customer.id, product_id, account.id, money(limit)), CONTEXT
    )
    return Borrower(line, account)


async def draw(bank: Nexum, line: CreditLine, amount: str) -> None:
    await bank.credit_lines.draw(DrawOnCreditLine(line.id, money(amount), key()), CONTEXT)


async def pay(bank: Nexum, line: CreditLine, amount: str) -> Any:
    return await bank.credit_lines.pay(PayCreditLine(line.id, money(amount), key()), CONTEXT)


async def close_days(bank: Nexum, clock: FakeClock, first: date, last: date) -> None:
    """Run the credit-line steps for every business date from ``first`` to ``last``, each
    the day after it ended, as the close of business does."""
    steps = credit_line_steps(bank.storage, clock, bank.config.interest_calculation_precision)
    day = first
    while day <= last:
        clock.business_date = day + timedelta(days=1)
        for step in steps:
            await step.run(day, lambda done, total: None)
        day += timedelta(days=1)


async def on(clock: FakeClock, day: date) -> None:
    clock.business_date = day


async def statement(bank: Nexum, line: CreditLine, day: date) -> CreditLineStatement:
    found = [s for s in await bank.credit_lines.statements(line.id, 12) if s.statement_date == day]
    assert len(found) == 1, found
    return found[0]


async def gl_balance(bank: Nexum, code: GLCode) -> int:
    return (await bank.accounts.get(gl_account_id(code, "USD"))).posted_minor


async def credit_line_product(bank: Nexum, **changes: Any) -> UUID:
    record = await create_product(
        bank, ProductKind.CREDIT_LINE, terms=line_terms(**changes), active=True
    )
    return record.product.product_id


# --- opening, draws, payments -----------------------------------------------------------------


async def test_a_line_opens_under_the_products_active_version_and_keeps_its_terms(bank):
    product_id = await credit_line_product(bank)
    borrower = await open_line(bank, product_id, limit="2500.00")

    line = await bank.credit_lines.get(borrower.line.id)
    assert (line.status, line.limit_minor, line.balance_minor, line.available_minor) == (
        CreditLineStatus.ACTIVE,
        2500_00,
        0,
        2500_00,
    )
    assert (line.product_id, line.product_version, line.currency) == (product_id, 1, "USD")
    assert line.terms.annual_rate == Decimal("0.18")
    assert line.terms.minimum_payment == MinimumPaymentRule(Decimal("0.05"), 25_00)
    assert line.terms.late_fee == FeeRule.fixed(35_00)
    assert line.deposit_account_id == borrower.account.id


async def test_opening_is_refused_beyond_the_products_rules(bank):
    product_id = await credit_line_product(bank)
    draft = (
        await create_product(bank, ProductKind.CREDIT_LINE, terms=line_terms())
    ).product.product_id
    loan = (await create_product(bank, ProductKind.TERM_LOAN, active=True)).product.product_id
    customer = await new_customer(bank)
    account = await new_account(bank, customer=customer)
    euros = await new_account(bank, "EUR", customer=customer)
    strangers = await new_account(bank)

    async def attempt(product: UUID, deposit_account: UUID, limit: str, code: str = "USD") -> None:
        await bank.credit_lines.open(
            OpenCreditLine(customer.id, product, deposit_account, money(limit, code)), CONTEXT
        )

    with pytest.raises(InvalidAmount):
        await attempt(product_id, account.id, "10000.01")  # above the product's maximum
    with pytest.raises(ProductNotActive):
        await attempt(draft, account.id, "100.00")
    with pytest.raises(WrongProductKind):
        await attempt(loan, account.id, "100.00")
    with pytest.raises(CurrencyMismatch):
        await attempt(product_id, euros.id, "100.00")
    with pytest.raises(CurrencyMismatch):
        await attempt(product_id, account.id, "100.00", "EUR")
    with pytest.raises(WrongAccountKind):  # another customer's account
        await attempt(product_id, strangers.id, "100.00")


async def test_draws_within_the_limit_pay_into_the_deposit_account_and_one_over_is_refused(
    bank,
):
    product_id = await credit_line_product(bank)
    borrower = await open_line(bank, product_id, limit="1000.00", funds="0.00")
    receivable_before = await gl_balance(bank, GLCode.CREDIT_LINES_RECEIVABLE)

    await draw(bank, borrower.line, "600.00")
    await draw(bank, borrower.line, "400.00")
    with pytest.raises(CreditLimitExceeded) as refused:
        await draw(bank, borrower.line, "0.01")

    assert refused.value.context["available_minor"] == 0
    line = await bank.credit_lines.get(borrower.line.id)
    assert (line.principal_minor, line.available_minor) == (1000_00, 0)
    assert (await bank.accounts.get(borrower.account.id)).posted_minor == 1000_00
    # the bank's receivable grew by the draws (other tests' lines share it, never concurrently)
    assert await gl_balance(bank, GLCode.CREDIT_LINES_RECEIVABLE) - receivable_before == 1000_00


async def test_a_repeated_draw_is_posted_once(bank):
    product_id = await credit_line_product(bank)
    borrower = await open_line(bank, product_id)
    command = DrawOnCreditLine(borrower.line.id, money("250.00"), key())

    first = await bank.credit_lines.draw(command, CONTEXT)
    again = await bank.credit_lines.draw(command, CONTEXT)

    assert (first.replayed, again.replayed) == (False, True)
    assert again.entry.id == first.entry.id
    assert (await bank.credit_lines.get(borrower.line.id)).principal_minor == 250_00


async def test_a_frozen_line_takes_payments_but_no_draws_and_closes_once_paid(bank):
    product_id = await credit_line_product(bank)
    borrower = await open_line(bank, product_id)
    await draw(bank, borrower.line, "300.00")

    frozen = await bank.credit_lines.freeze(borrower.line.id, "fraud report", CONTEXT)
    with pytest.raises(InvalidTransition):
        await draw(bank, borrower.line, "1.00")
    with pytest.raises(InvalidTransition):  # something is owed
        await bank.credit_lines.close(borrower.line.id, "customer asked", CONTEXT)
    with pytest.raises(OverpaymentRefused):
        await pay(bank, borrower.line, "300.01")
    paid = await pay(bank, borrower.line, "300.00")
    closed = await bank.credit_lines.close(borrower.line.id, "customer asked", CONTEXT)

    assert frozen.status is CreditLineStatus.FROZEN
    assert paid.movement.principal_minor == -300_00
    assert (closed.status, closed.balance_minor) == (CreditLineStatus.CLOSED, 0)
    assert (await bank.accounts.get(borrower.account.id)).posted_minor == 1000_00
    with pytest.raises(InvalidTransition):
        await pay(bank, borrower.line, "1.00")


async def test_concurrent_draws_never_take_a_line_over_its_limit(bank):
    product_id = await credit_line_product(bank)
    borrower = await open_line(bank, product_id, limit="1000.00")

    outcomes = await asyncio.gather(
        *(draw(bank, borrower.line, "300.00") for _ in range(5)), return_exceptions=True
    )

    refused = [outcome for outcome in outcomes if isinstance(outcome, CreditLimitExceeded)]
    assert (len(refused), len(outcomes) - len(refused)) == (2, 3), outcomes
    assert (await bank.credit_lines.get(borrower.line.id)).principal_minor == 900_00


async def test_a_credit_line_entry_is_not_reversed_on_its_own(bank):
    product_id = await credit_line_product(bank)
    borrower = await open_line(bank, product_id)
    drawn = await bank.credit_lines.draw(
        DrawOnCreditLine(borrower.line.id, money("50.00"), key()), CONTEXT
    )

    with pytest.raises(InvalidTransition):
        await bank.ledger.reverse(Reverse(drawn.entry.id, "mistake", key()), CONTEXT)
    assert (await bank.credit_lines.get(borrower.line.id)).principal_minor == 50_00


# --- close of business --------------------------------------------------------------------


async def test_interest_statements_overdue_and_late_fees_agree_with_the_ledger(own_bank, clock):
    bank = own_bank
    await on(clock, OPENED)
    product_id = await credit_line_product(bank)
    big = await open_line(bank, product_id)
    small = await open_line(bank, product_id)
    tiny = await open_line(bank, product_id)

    # --- the first period: 10 to 25 January
    await draw(bank, big.line, "1000.00")
    await draw(bank, small.line, "100.00")
    await draw(bank, tiny.line, "10.00")
    await close_days(bank, clock, OPENED, date(2026, 1, 14))
    await on(clock, date(2026, 1, 15))
    await draw(bank, big.line, "500.00")
    await close_days(bank, clock, date(2026, 1, 15), date(2026, 1, 19))
    await on(clock, date(2026, 1, 20))
    await pay(bank, big.line, "200.00")
    await close_days(bank, clock, date(2026, 1, 20), FIRST_STATEMENT)

    first_balances = {
        "big": daily_balances(
            OPENED,
            FIRST_STATEMENT,
            {OPENED: 1000_00, date(2026, 1, 15): 500_00, date(2026, 1, 20): -200_00},
        ),
        "small": daily_balances(OPENED, FIRST_STATEMENT, {OPENED: 100_00}),
        "tiny": daily_balances(OPENED, FIRST_STATEMENT, {OPENED: 10_00}),
    }
    borrowers = {"big": big, "small": small, "tiny": tiny}
    first: dict[str, CreditLineStatement] = {}
    residues: dict[str, Fraction] = {}
    for name, borrower in borrowers.items():
        interest, residues[name] = billed(first_balances[name], Fraction(0))
        principal = first_balances[name][FIRST_STATEMENT]
        first[name] = found = await statement(bank, borrower.line, FIRST_STATEMENT)
        assert (
            found.period_start,
            found.opening_minor,
            found.interest_minor,
            found.fees_minor,
            found.closing_minor,
            found.minimum_payment_minor,
            found.due_date,
            found.status,
        ) == (
            OPENED,
            0,
            interest,
            0,
            principal + interest,
            minimum(principal + interest),
            FIRST_DUE,
            StatementStatus.DUE,
        ), name
        assert Fraction(found.residue) == residues[name], name
        line = await bank.credit_lines.get(borrower.line.id)
        assert (line.balance_minor, line.interest_minor, line.period_start) == (
            found.closing_minor,
            interest,
            FIRST_STATEMENT + timedelta(days=1),
        )
        assert (line.accrued_interest, Fraction(line.interest_residue)) == (0, residues[name])
    assert (first["big"].draws_minor, first["big"].payments_minor) == (1500_00, 200_00)
    # the minimum: 5 % of the big balance; the floor for the small one; all of the tiny one
    assert first["big"].minimum_payment_minor > 25_00
    assert first["small"].minimum_payment_minor == 25_00
    assert first["tiny"].minimum_payment_minor == first["tiny"].closing_minor < 25_00
    # the ledger: the receivable is the statements' closing balances, income their interest
    closings = sum(found.closing_minor for found in first.values())
    interest_billed = sum(found.interest_minor for found in first.values())
    assert await gl_balance(bank, GLCode.CREDIT_LINES_RECEIVABLE) == closings
    assert await gl_balance(bank, GLCode.INTEREST_INCOME) == interest_billed

    # --- payments toward the minimum, and the due date closing
    await close_days(bank, clock, date(2026, 1, 26), date(2026, 2, 9))
    await on(clock, date(2026, 2, 10))
    big_payment = await pay(bank, big.line, money_text(first["big"].minimum_payment_minor))
    await pay(bank, small.line, "10.00")
    await close_days(bank, clock, date(2026, 2, 10), FIRST_DUE)
    await close_days(bank, clock, FIRST_DUE, date(2026, 2, 16))  # the due date again: no change

    # interest billed is paid before principal
    assert big_payment.movement.interest_minor == -first["big"].interest_minor
    assert big_payment.movement.principal_minor == -(
        first["big"].minimum_payment_minor - first["big"].interest_minor
    )
    assert (await statement(bank, big.line, FIRST_STATEMENT)).status is StatementStatus.PAID
    for name in ("small", "tiny"):
        overdue = await statement(bank, borrowers[name].line, FIRST_STATEMENT)
        line = await bank.credit_lines.get(borrowers[name].line.id)
        assert (overdue.status, overdue.late_fee_minor) == (StatementStatus.OVERDUE, 35_00)
        assert (line.status, line.fees_minor) == (CreditLineStatus.OVERDUE, 35_00)
    assert await gl_balance(bank, GLCode.PENALTY_INCOME) == 2 * 35_00
    assert (await bank.credit_lines.get(big.line.id)).status is CreditLineStatus.ACTIVE

    # the rest of the small minimum: the fee is paid first, and the statement is met
    await on(clock, date(2026, 2, 17))
    fee_payment = await pay(bank, small.line, "15.00")
    assert (fee_payment.movement.fees_minor, fee_payment.movement.principal_minor) == (-15_00, 0)
    assert (await statement(bank, small.line, FIRST_STATEMENT)).status is StatementStatus.PAID
    small_now = await bank.credit_lines.get(small.line.id)
    assert (small_now.status, small_now.fees_minor) == (CreditLineStatus.ACTIVE, 20_00)

    # --- the second period: 26 January to 25 February, the residue carried into it
    await close_days(bank, clock, date(2026, 2, 17), SECOND_STATEMENT)
    second_start = FIRST_STATEMENT + timedelta(days=1)
    second_changes = {
        "big": {
            second_start: first["big"].closing_minor,
            date(2026, 2, 10): -first["big"].minimum_payment_minor,
        },
        "small": {
            second_start: first["small"].closing_minor,
            date(2026, 2, 10): -10_00,
            # charged at the close of the due date: it earns from the next day
            date(2026, 2, 16): 35_00,
            date(2026, 2, 17): -15_00,
        },
        "tiny": {second_start: first["tiny"].closing_minor, date(2026, 2, 16): 35_00},
    }
    for name, borrower in borrowers.items():
        balances = daily_balances(second_start, SECOND_STATEMENT, second_changes[name])
        interest, residue = billed(balances, residues[name])
        found = await statement(bank, borrower.line, SECOND_STATEMENT)
        expected_fees = 0 if name == "big" else 35_00
        closing = balances[SECOND_STATEMENT] + interest
        assert (
            found.opening_minor,
            found.interest_minor,
            found.fees_minor,
            found.closing_minor,
            found.minimum_payment_minor,
        ) == (first[name].closing_minor, interest, expected_fees, closing, minimum(closing)), name
        assert Fraction(found.residue) == residue, name
        assert (await bank.credit_lines.get(borrower.line.id)).balance_minor == closing

    # --- reruns of dates already closed change nothing, and the ledger verifies
    receivable = await gl_balance(bank, GLCode.CREDIT_LINES_RECEIVABLE)
    income = await gl_balance(bank, GLCode.INTEREST_INCOME)
    penalties = await gl_balance(bank, GLCode.PENALTY_INCOME)
    statements_before = {
        name: await bank.credit_lines.statements(b.line.id, 12) for name, b in borrowers.items()
    }
    for day in (FIRST_STATEMENT, FIRST_DUE, SECOND_STATEMENT):
        await close_days(bank, clock, day, day)
    assert (
        await gl_balance(bank, GLCode.CREDIT_LINES_RECEIVABLE),
        await gl_balance(bank, GLCode.INTEREST_INCOME),
        await gl_balance(bank, GLCode.PENALTY_INCOME),
    ) == (receivable, income, penalties)
    assert {
        name: await bank.credit_lines.statements(b.line.id, 12) for name, b in borrowers.items()
    } == statements_before
    assert receivable == sum(
        [(await bank.credit_lines.get(b.line.id)).balance_minor for b in borrowers.values()]
    )
    report = await verify_ledger(bank.storage)
    assert {"credit_line_balances", "credit_line_entries"} <= set(report.checks)
    assert report.violations == []


async def test_a_percentage_late_fee_is_charged_on_the_unpaid_minimum(own_bank, clock):
    bank = own_bank
    await on(clock, OPENED)
    product_id = await credit_line_product(bank, late_fee=FeeRule.percent(Decimal("0.1")))
    borrower = await open_line(bank, product_id)
    await draw(bank, borrower.line, "2000.00")
    await close_days(bank, clock, OPENED, FIRST_STATEMENT)
    first = await statement(bank, borrower.line, FIRST_STATEMENT)
    await on(clock, date(2026, 2, 1))
    await pay(bank, borrower.line, "30.00")
    await close_days(bank, clock, date(2026, 1, 26), FIRST_DUE)

    overdue = await statement(bank, borrower.line, FIRST_STATEMENT)
    unpaid = first.minimum_payment_minor - 30_00
    # 10 % of the unpaid minimum, rounded half to even to the cent
    assert overdue.late_fee_minor == round(Fraction(unpaid, 10))
    assert (await bank.credit_lines.get(borrower.line.id)).fees_minor == overdue.late_fee_minor
    assert (await verify_ledger(bank.storage)).violations == []


async def test_a_statement_date_missing_from_the_month_falls_on_its_last_day(own_bank, clock):
    bank = own_bank
    start = date(2026, 2, 1)
    await on(clock, start)
    product_id = await credit_line_product(bank, statement_day=31)
    borrower = await open_line(bank, product_id)
    await draw(bank, borrower.line, "100.00")
    await close_days(bank, clock, start, date(2026, 3, 1))

    found = await bank.credit_lines.statements(borrower.line.id, 12)
    assert [s.statement_date for s in found] == [date(2026, 2, 28)]
    interest, _ = billed(daily_balances(start, date(2026, 2, 28), {start: 100_00}), Fraction(0))
    assert found[0].interest_minor == interest
    # the statement's interest reached the ledger
    assert await gl_balance(bank, GLCode.INTEREST_INCOME) == interest


def money_text(minor: int) -> str:
    return f"{Decimal(minor).scaleb(-2):.2f}"


# --- the SQL arithmetic on each database ----------------------------------------------------

# (balance in cents, annual rate, day fraction, minor units, precision): ties that half to
# even must settle (0.00005 -> 0.0000, 0.00015 -> 0.0002), a zero-day 30/360 day, a yen
# balance (no decimals), and a balance in credit (earns nothing).
ACCRUAL_CASES = [
    (5, "0.365", (1, 365), 2, 4),
    (15, "0.365", (1, 365), 2, 4),
    (123_456_78, "0.1899", (1, 365), 2, 4),
    (123_456_78, "0.1899", (3, 360), 2, 6),
    (99_999, "0.18", (0, 360), 2, 4),
    (1_000_000, "0.05", (1, 360), 0, 4),
    (-500, "0.18", (1, 365), 2, 4),
]


@pytest.mark.parametrize("case", ACCRUAL_CASES, ids=[str(case) for case in ACCRUAL_CASES])
async def test_the_databases_daily_accrual_rounds_half_to_even_exactly(storage, case):
    balance, rate, (days, year), minor_units, precision = case
    decimals = max(precision, minor_units)
    exact = Fraction(max(balance, 0), 10**minor_units) * Fraction(Decimal(rate)) * days / year
    expected = round(exact, decimals)  # a Fraction rounds half to even, exactly

    async def compute(conn: Any) -> Any:
        await define_functions(conn)
        return await conn.scalar(
            text(
                "SELECT nexum_credit_line_daily_accrual(:balance, :rate, :days, :year,"
                " :minor_units, :precision)"
            ).bindparams(
                bindparam("balance", type_=BigInteger()),
                bindparam("rate", type_=EXACT_DECIMAL),
                bindparam("days", type_=Integer()),
                bindparam("year", type_=Integer()),
                bindparam("minor_units", type_=Integer()),
                bindparam("precision", type_=Integer()),
            ),
            {
                "balance": balance,
                "rate": Decimal(rate),
                "days": days,
                "year": year,
                "minor_units": minor_units,
                "precision": precision,
            },
        )

    async with storage.engine.connect() as conn:
        assert Fraction(Decimal(str(await compute(conn)))) == expected


async def test_the_close_of_business_runs_the_credit_line_steps_in_its_order(own_bank, clock):
    bank = own_bank
    start = date(2026, 3, 20)
    await on(clock, start)
    product_id = await credit_line_product(bank)
    borrower = await open_line(bank, product_id)
    await draw(bank, borrower.line, "730.00")

    day = start
    while day <= date(2026, 3, 25):
        clock.business_date = day + timedelta(days=1)
        await bank.close_of_business.run(day, CONTEXT)
        day += timedelta(days=1)

    names = bank.close_of_business.step_names
    assert names[-2:] == ("credit_line_interest", "credit_line_statements")
    [found] = await bank.credit_lines.statements(borrower.line.id, 12)
    interest, _ = billed(daily_balances(start, date(2026, 3, 25), {start: 730_00}), Fraction(0))
    assert (found.statement_date, found.interest_minor) == (date(2026, 3, 25), interest)
    assert (await verify_ledger(bank.storage)).violations == []


async def test_decimals_read_back_as_the_accruals_wrote_them(own_bank, clock):
    """Accrued interest and residues come back with the accruals' decimals on both
    databases (no float, no padding): what the API shows is the same text on each."""
    bank = own_bank
    await on(clock, OPENED)
    borrower = await open_line(bank, await credit_line_product(bank))
    await draw(bank, borrower.line, "10.00")
    await close_days(bank, clock, OPENED, date(2026, 1, 12))
    accruing = await bank.credit_lines.get(borrower.line.id)
    await close_days(bank, clock, date(2026, 1, 13), FIRST_STATEMENT)
    billed_line = await bank.credit_lines.get(borrower.line.id)

    # 10.00 at 18 %: 0.0049 a day; three days accrued, then 16 days billed as 0.07
    assert format(accruing.accrued_interest, "f") == "0.0147"
    assert format(billed_line.interest_residue, "f") == "0.0084"
    assert format(billed_line.accrued_interest, "f") == "0"


async def test_a_late_fee_charged_on_a_statement_date_is_on_that_statement(own_bank, clock):
    """With 31 days' grace, the minimum of 25 January falls due on 25 February, the next
    statement date: the fee charged as that date closes is on that day's statement, and the
    statement still agrees with the ledger."""
    bank = own_bank
    await on(clock, OPENED)
    borrower = await open_line(bank, await credit_line_product(bank, grace_days=31))
    await draw(bank, borrower.line, "100.00")
    await close_days(bank, clock, OPENED, SECOND_STATEMENT)

    first = await statement(bank, borrower.line, FIRST_STATEMENT)
    second = await statement(bank, borrower.line, SECOND_STATEMENT)
    line = await bank.credit_lines.get(borrower.line.id)
    assert (first.due_date, first.status, first.late_fee_minor) == (
        SECOND_STATEMENT,
        StatementStatus.OVERDUE,
        35_00,
    )
    assert second.fees_minor == 35_00
    assert (
        second.closing_minor
        == line.balance_minor
        == first.closing_minor + 35_00 + (second.interest_minor)
    )
    assert await gl_balance(bank, GLCode.CREDIT_LINES_RECEIVABLE) == second.closing_minor
    assert (await verify_ledger(bank.storage)).violations == []


async def test_a_payment_after_the_statement_date_counts_even_before_the_statement_is_cut(
    own_bank, clock
):
    """Close of business runs once a date has ended: a payment dated the next day, made
    before the statement was cut, is not in the statement's period but counts toward its
    minimum."""
    bank = own_bank
    await on(clock, OPENED)
    borrower = await open_line(bank, await credit_line_product(bank))
    await draw(bank, borrower.line, "100.00")
    await close_days(bank, clock, OPENED, FIRST_STATEMENT - timedelta(days=1))
    await on(clock, FIRST_STATEMENT + timedelta(days=1))
    await pay(bank, borrower.line, "30.00")
    await close_days(bank, clock, FIRST_STATEMENT, FIRST_STATEMENT)

    found = await statement(bank, borrower.line, FIRST_STATEMENT)
    assert (found.payments_minor, found.minimum_payment_minor) == (0, 25_00)
    assert (found.paid_minor, found.status) == (30_00, StatementStatus.PAID)
