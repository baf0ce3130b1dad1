"""Field checks shared by the lending data classes.

Each check raises :class:`~core_banking.domain.errors.InvalidInput` (or
:class:`~core_banking.domain.errors.InvalidAmount` for money) naming the field, so an API can
point at exactly what to fix. ``bool`` is refused wherever an ``int`` is expected: ``True`` is
an ``int`` to Python, but never a count of anything here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core_banking.domain.errors import InvalidAmount, InvalidInput
from core_banking.domain.money import MAX_AMOUNT_MINOR, Currency

MAX_RATE_DECIMALS = 10
"""Most decimal places a rate may have: 0.0000000001 is already a hundred-millionth of a
percent, far finer than any product is priced."""


def require_int(value: object, field: str, *, minimum: int, maximum: int) -> None:
    """A whole number (never a bool) in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be a whole number", field=field)
    if not minimum <= value <= maximum:
        raise InvalidInput(f"{field} must be between {minimum} and {maximum}", field=field)


def require_minor(value: object, field: str, *, allow_zero: bool = True) -> None:
    """A count of minor units: a non-negative int below the single-amount bound."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(f"{field} must be a whole number of minor units", field=field)
    if value < 0 or (value == 0 and not allow_zero) or value >= MAX_AMOUNT_MINOR:
        lowest = "zero" if allow_zero else "one minor unit"
        raise InvalidAmount(
            f"{field} must be at least {lowest} and below {MAX_AMOUNT_MINOR} minor units",
            field=field,
        )


def require_rate(value: object, field: str, *, maximum: Decimal) -> None:
    """A ``Decimal`` fraction (0.05 is 5 %) in ``[0, maximum]`` with at most
    :data:`MAX_RATE_DECIMALS` decimal places. A float is refused outright: ``0.1`` as a float is
    not one tenth, and a rate that is not what it says would be wrong in every period."""
    if not isinstance(value, Decimal):
        raise InvalidInput(
            f"{field} must be a Decimal (parse it from text), not {type(value).__name__}",
            field=field,
        )
    if not value.is_finite() or value < 0 or value > maximum:
        raise InvalidInput(f"{field} must be between 0 and {maximum}", field=field)
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_RATE_DECIMALS:
        raise InvalidInput(
            f"{field} may have at most {MAX_RATE_DECIMALS} decimal places", field=field
        )


def require_currency(value: object, field: str = "currency") -> None:
    if not isinstance(value, Currency):
        raise InvalidInput(f"{field} must be a Currency", field=field)


def require_date(value: object, field: str) -> None:
    if not isinstance(value, date):
        raise InvalidInput(f"{field} must be a date", field=field)


def require_member(value: object, kind: type, field: str) -> None:
    """One member of the enum ``kind`` (compared by type, so a bare string is refused)."""
    if not isinstance(value, kind):
        raise InvalidInput(f"{field} must be a {kind.__name__}", field=field)
