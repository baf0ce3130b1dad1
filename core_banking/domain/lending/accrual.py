"""Daily interest accrual, and posting what has accrued in whole minor units.

Two steps, kept apart because they run at different times:

1. **Accrue** (every day): the interest one day earns on that day's closing balance,
   ``base x annual rate x day fraction``. It is computed exactly (a rational number) and kept
   in major units at ``precision`` decimals -- ``NEXUM_INTEREST_CALCULATION_PRECISION``,
   which the service layer reads from the settings and passes in -- rounded half to even
   once. The precision is never allowed below the currency's own decimals: an accrual
   coarser than the unit it is finally posted in could only lose money.
2. **Post** (at the product's frequency): the accrued total plus the residue carried from
   the last posting is split into whole minor units, rounded toward zero, and a new residue
   below one minor unit. Posting never pays out a cent before it has fully accrued, and the
   residue is carried into the next period, so ``posted + residue == accrued + old residue``
   exactly, every time: nothing is lost and nothing is invented.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, Rounded
from fractions import Fraction
from typing import Final

from core_banking.domain.errors import InvalidAmount, InvariantViolation
from core_banking.domain.lending._checks import require_int, require_member
from core_banking.domain.lending.day_count import DayCount, year_fraction
from core_banking.domain.lending.rates import InterestRate
from core_banking.domain.lending.rounding import quantize_half_even, round_down
from core_banking.domain.money import Currency

MAX_PRECISION: Final = 18
"""The most decimals an accrual may keep; the same bound the setting has."""

_EXACT: Final = Context(prec=60, traps=[Inexact, Rounded, InvalidOperation, Overflow])
"""Sums of accruals: 60 digits hold any sum of amounts below 10**15 at 18 decimals with room
to spare, and the traps turn any rounding at all into an error instead of a silent loss."""


def accrual_decimals(precision: int, currency: Currency) -> int:
    """The decimals an accrual keeps: the setting, but never fewer than the currency has."""
    require_int(precision, "precision", minimum=0, maximum=MAX_PRECISION)
    return max(precision, currency.minor_units)


def daily_accrual(
    base_minor: Fraction,
    currency: Currency,
    rate: InterestRate,
    day_count: DayCount,
    day: date,
    precision: int,
) -> Decimal:
    """The interest that ``day`` earns on a closing balance of ``base_minor`` minor units.

    The result is in major units with :func:`accrual_decimals` places. The day fraction is
    the convention's fraction of ``(day, day + 1)``: 1/365 under Actual/365 (Fixed), 1/360
    under Actual/360. Under the 30/360 conventions most days count 1/360, but so that every
    month earns exactly 30 days: in a 31-day month the 30th counts 0 (the 30th to the 31st
    is no day at all once the 31st counts as the 30th), and the last day of February counts
    3/360 (2/360 in a leap year).
    """
    require_member(day_count, DayCount, "day_count")
    if base_minor < 0:
        raise InvalidAmount("interest accrues on a balance of zero or more", field="base_minor")
    fraction = year_fraction(day_count, day, day + timedelta(days=1))
    interest_minor = rate.yearly_interest(base_minor) * fraction
    return quantize_half_even(
        interest_minor / 10**currency.minor_units, accrual_decimals(precision, currency)
    )


def sum_accruals(accruals: Iterable[Decimal]) -> Decimal:
    """The exact sum of daily accruals (never rounded: any rounding would raise)."""
    total = Decimal(0)
    for accrual in accruals:
        total = _EXACT.add(total, accrual)
    return total


@dataclass(frozen=True, slots=True)
class AccrualPosting:
    """What to post now (whole minor units) and what to carry to the next period."""

    posted_minor: int
    residue: Decimal


def post_accrual(accrued: Decimal, residue: Decimal, currency: Currency) -> AccrualPosting:
    """Split ``accrued + residue`` (major units) into whole minor units and a new residue.

    Both inputs must be finite and non-negative. The new residue is in ``[0, one minor
    unit)`` and the identity ``posted / 10**exponent + new residue == accrued + residue``
    holds exactly.
    """
    for name, value in (("accrued", accrued), ("residue", residue)):
        if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
            raise InvalidAmount(f"{name} must be a finite, non-negative Decimal", field=name)
    total = _EXACT.add(accrued, residue)
    posted_minor = round_down(Fraction(total) * 10**currency.minor_units)
    posted_major = Decimal(posted_minor).scaleb(-currency.minor_units, context=_EXACT)
    new_residue = _EXACT.subtract(total, posted_major)
    if not 0 <= new_residue < currency.smallest_unit:
        raise InvariantViolation("a residue is less than one minor unit", residue=str(new_residue))
    return AccrualPosting(posted_minor, new_residue)
