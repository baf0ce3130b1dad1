"""Exact rational arithmetic rounded once, by a rule named at the call.

Interest is a product of an amount, a rate and a day fraction such as 31/365: a number with
no finite decimal expansion. Computing it as a :class:`~fractions.Fraction` keeps it exact, so
there is no working precision to choose and no double rounding (rounding an intermediate to
some precision and then again to cents can land on the wrong side of a half). Every figure
that leaves this package is rounded exactly once, by one of the functions below.

Which rule where, and why:

* **Half to even** (:func:`round_half_even`, :func:`quantize_half_even`) for amounts the bank
  charges or pays: period interest, fees, daily accruals. Exact halves go to the even
  neighbour, so over millions of accruals the rounding neither favours the bank nor the
  customer; half-up would add a systematic upward bias on every tie.
* **Toward zero** (:func:`round_down`) where a whole unit must not be handed out before it is
  complete: posting accrued interest carries the rest as a residue (see ``accrual``).
* **Up** (:func:`round_up`) where a figure is a floor the customer must reach, such as a
  credit line's minimum payment.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction


def round_half_even(value: Fraction) -> int:
    """The nearest integer; an exact half goes to the even one (2.5 -> 2, 3.5 -> 4, -2.5 -> -2)."""
    whole, rest = divmod(value.numerator, value.denominator)
    twice = 2 * rest
    if twice > value.denominator or (twice == value.denominator and whole % 2 == 1):
        return whole + 1
    return whole


def round_down(value: Fraction) -> int:
    """Toward zero: 2.9 -> 2, -2.9 -> -2."""
    whole = value.numerator // value.denominator
    return whole + 1 if whole < 0 and whole != value else whole


def round_up(value: Fraction) -> int:
    """Toward positive infinity (ceiling): 2.1 -> 3, 2 -> 2."""
    return -(-value.numerator // value.denominator)


def quantize_half_even(value: Fraction, decimals: int) -> Decimal:
    """``value`` as a ``Decimal`` with exactly ``decimals`` places, rounded half to even once."""
    scaled = round_half_even(value * 10**decimals)
    digits = tuple(int(digit) for digit in str(abs(scaled)))
    return Decimal((1 if scaled < 0 else 0, digits, -decimals))
