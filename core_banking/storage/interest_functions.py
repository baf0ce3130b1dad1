"""SQL functions for deposit interest and term deposits on SQLite, computed by the domain.

SQLite has no exact decimal arithmetic (its NUMERIC is a float), so the interest SQL calls
these Python functions, registered on every connection, where PostgreSQL computes with
NUMERIC. Each one calls the domain (``accrual_base``, ``daily_accrual``, ``post_accrual``),
so SQLite's accruals are by construction the domain's Decimals; a test checks PostgreSQL's
NUMERIC SQL against the same domain functions. Decimals cross the boundary as plain text,
never as floats. ``nexum_term_maturity`` is the domain's term arithmetic, where SQLite's
own date arithmetic rolls 31 January + 1 month over into March. All but ``nexum_uuid7`` are
deterministic.

A product's tiers arrive as text ``"from_minor:annual_rate;..."`` (the SQL concatenates
``deposit_interest_tiers``); each distinct text is parsed once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from decimal import Context, Decimal, Inexact
from fractions import Fraction
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from core_banking.domain.ids import uuid7
from core_banking.domain.lending.accrual import daily_accrual, post_accrual, sum_accruals
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.deposit_products import DepositTerm, TermUnit
from core_banking.domain.lending.rates import (
    Compounding,
    FixedRate,
    InterestRate,
    RateTier,
    TieredRate,
    TierMethod,
    accrual_base,
)
from core_banking.domain.lending.term_deposits import maturity_of_term
from core_banking.domain.money import currency

_EXACT = Context(prec=60, traps=[Inexact])

_PARSED_TIERS_MAX = 1024
"""Distinct tier texts kept parsed: one per product version, and a catalogue is small."""


def decimal_text(value: Decimal) -> str:
    return format(value, "f")


def exact_decimal(value: Fraction) -> Decimal:
    """A Fraction whose denominator divides a power of ten (whole minor units plus decimal
    interest, or times decimal rates) as the same Decimal; anything inexact raises."""
    return _EXACT.divide(Decimal(value.numerator), Decimal(value.denominator))


@functools.lru_cache(maxsize=_PARSED_TIERS_MAX)
def interest_rate(rate_kind: str, tiers: str) -> InterestRate:
    """The domain's rate from a product's tier text (validated again by the domain)."""
    parsed = sorted(
        (int(from_minor), Decimal(rate))
        for from_minor, rate in (tier.split(":") for tier in tiers.split(";"))
    )
    if rate_kind == "fixed":
        [(_, annual_rate)] = parsed
        return FixedRate(annual_rate)
    return TieredRate(
        tuple(RateTier(from_minor, rate) for from_minor, rate in parsed), TierMethod(rate_kind)
    )


def accrual_base_text(
    closing_minor: int, credited_minor: int, unposted: str, compounding: str, code: str
) -> str:
    """What earns interest for the day, in minor units (a decimal under daily compounding)."""
    base = accrual_base(
        closing_minor,
        currency(code),
        Compounding(compounding),
        credited_interest_minor=credited_minor,
        unposted_interest=Decimal(unposted),
    )
    return decimal_text(exact_decimal(base))


def daily_accrual_text(
    base: str, code: str, rate_kind: str, tiers: str, day_count: str, day: str, precision: int
) -> str:
    accrued = daily_accrual(
        Fraction(Decimal(base)),
        currency(code),
        interest_rate(rate_kind, tiers),
        DayCount(day_count),
        date.fromisoformat(day),
        precision,
    )
    return decimal_text(accrued)


def tier_rate_text(base: str, rate_kind: str, tiers: str) -> str:
    """The annual rate of the highest tier ``base`` reaches (the rate, for a fixed rate)."""
    rate = interest_rate(rate_kind, tiers)
    if isinstance(rate, FixedRate):
        return decimal_text(rate.annual_rate)
    reached = [tier for tier in rate.tiers if tier.from_minor <= Decimal(base)]
    return decimal_text(reached[-1].annual_rate)


def decimal_sum_text(first: str, second: str) -> str:
    return decimal_text(sum_accruals((Decimal(first), Decimal(second))))


def posted_minor(accrued: str, residue: str, code: str) -> int:
    return post_accrual(Decimal(accrued), Decimal(residue), currency(code)).posted_minor


def posted_residue_text(accrued: str, residue: str, code: str) -> str:
    return decimal_text(post_accrual(Decimal(accrued), Decimal(residue), currency(code)).residue)


def term_maturity_text(start_date: str, length: int, unit: str, term_number: int) -> str:
    """The maturity of term ``term_number`` of a term deposit first placed on
    ``start_date`` (an ISO date, as SQLite stores one)."""
    term = DepositTerm(length, TermUnit(unit))
    return maturity_of_term(term, date.fromisoformat(start_date), term_number).isoformat()


def new_entry_id() -> str:
    """A time-ordered id, as SQLite stores a UUID (32 hex digits)."""
    return uuid7().hex


_FUNCTIONS: tuple[tuple[str, int, Callable[..., Any], bool], ...] = (
    ("nexum_accrual_base", 5, accrual_base_text, True),
    ("nexum_daily_accrual", 7, daily_accrual_text, True),
    ("nexum_tier_rate", 3, tier_rate_text, True),
    ("nexum_decimal_add", 2, decimal_sum_text, True),
    ("nexum_posted_minor", 3, posted_minor, True),
    ("nexum_posted_residue", 3, posted_residue_text, True),
    ("nexum_term_maturity", 4, term_maturity_text, True),
    ("nexum_uuid7", 0, new_entry_id, False),
)


def register_interest_functions(engine: AsyncEngine) -> None:
    """Give every new connection of ``engine`` the functions above."""

    @event.listens_for(engine.sync_engine, "connect")
    def register(dbapi_connection: Any, _record: Any) -> None:
        for name, arguments, function, deterministic in _FUNCTIONS:
            dbapi_connection.create_function(name, arguments, function, deterministic=deterministic)
