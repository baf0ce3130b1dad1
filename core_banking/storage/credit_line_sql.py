"""The exact arithmetic credit lines' close of business does in SQL, on SQLite.

PostgreSQL has these functions in NUMERIC (migrations/sql/0008_credit_lines.sql). SQLite has
no exact decimal type (its NUMERIC is a binary float), so the same functions, by the same
names and arguments, are defined here in Python on the connection before the statements
that call them run: the statements stay set-based and one text on both databases. Each
function reuses the lending domain's own rules and roundings; decimals travel as text
(``storage/types.py`` ``EXACT_DECIMAL``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.lending.accrual import sum_accruals
from core_banking.domain.lending.credit_line_products import MinimumPaymentRule
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.rounding import quantize_half_even, round_down


def daily_accrual(
    balance_minor: int,
    annual_rate: str,
    day_numerator: int,
    day_denominator: int,
    minor_units: int,
    precision: int,
) -> str:
    """One day's interest, major units, rounded half to even once (as ``accrual.daily_accrual``
    does, with the convention's day fraction given)."""
    interest_minor = (
        Fraction(max(balance_minor, 0))
        * Fraction(Decimal(annual_rate))
        * Fraction(day_numerator, day_denominator)
    )
    decimals = max(precision, minor_units)
    return _text(quantize_half_even(interest_minor / 10**minor_units, decimals))


def billed_minor(accrued: str, residue: str, minor_units: int) -> int:
    """Whole minor units of accrued interest plus residue, rounded toward zero."""
    return round_down(
        Fraction(sum_accruals((Decimal(accrued), Decimal(residue)))) * 10**minor_units
    )


def carried_residue(accrued: str, residue: str, minor_units: int) -> str:
    """What stays below one minor unit once the whole units are billed."""
    total = sum_accruals((Decimal(accrued), Decimal(residue)))
    billed = Decimal(billed_minor(accrued, residue, minor_units)).scaleb(-minor_units)
    return _text(sum_accruals((total, -billed)))


def minimum_payment(closing_minor: int, rate: str, floor_minor: int) -> int:
    return MinimumPaymentRule(Decimal(rate), floor_minor).amount_for(closing_minor)


def late_fee(unpaid_minor: int, fixed_minor: int | None, rate: str | None) -> int:
    if fixed_minor is not None:
        return FeeRule.fixed(fixed_minor).amount_on(max(unpaid_minor, 0))
    if rate is not None:
        return FeeRule.percent(Decimal(rate)).amount_on(max(unpaid_minor, 0))
    return 0


def add(augend: str, addend: str) -> str:
    return _text(sum_accruals((Decimal(augend), Decimal(addend))))


def _text(value: Decimal) -> str:
    return format(value, "f")


_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "nexum_credit_line_daily_accrual": (6, daily_accrual),
    "nexum_credit_line_billed_minor": (3, billed_minor),
    "nexum_credit_line_carried_residue": (3, carried_residue),
    "nexum_credit_line_minimum_payment": (3, minimum_payment),
    "nexum_credit_line_late_fee": (3, late_fee),
    "nexum_credit_line_add": (2, add),
}


async def define_functions(conn: AsyncConnection) -> None:
    """Give a SQLite connection the credit-line functions (PostgreSQL has them already)."""
    if conn.dialect.name != "sqlite":
        return
    await conn.run_sync(_define)


def _define(conn: Connection) -> None:
    driver = conn.connection.dbapi_connection
    if driver is None:
        raise RuntimeError("the connection has no driver connection")
    for name, (arguments, function) in _FUNCTIONS.items():
        driver.create_function(name, arguments, function, deterministic=True)
