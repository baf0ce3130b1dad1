"""Money: whole numbers of minor units, with decimal strings only at the edges.

Three rules, and why:

* **Integers in storage.** An amount is an ``int`` count of the currency's minor unit
  (cents for USD, yen for JPY, fils for BHD). Integer addition is exact and associative, so
  a ledger that only ever adds integers can always be made to balance to the last unit.
  Floats cannot do that (``0.1 + 0.2 != 0.3``), and are never used here.
* **Decimal strings at the edges.** People and other systems write amounts as decimal
  text such as ``"100.25"``. :func:`parse_amount` turns that text into minor units and
  :meth:`Money.amount_string` turns minor units back into text, always with exactly as
  many decimals as the currency has.
* **Refuse rather than round.** A request for ``"1.005"`` dollars, ``"100.00"`` yen or
  ``"1e3"`` of anything is a mistake somewhere upstream. Silently rounding it would move a
  different amount from the one the customer asked for, so it is refused with
  :class:`~core_banking.domain.errors.InvalidAmount`. Rounding happens only where a
  calculation asks for it by name (:meth:`Money.from_decimal` with ``rounding=``), and
  sharing an amount out happens without losing a unit (:func:`split_by_ratio`).

Every single amount must stay below :data:`MAX_AMOUNT_MINOR` (10**15 minor units), which
keeps any realistic sum of amounts far inside a signed 64-bit ``BIGINT`` column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Final

from core_banking.domain.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency
from core_banking.domain.iso4217 import ACTIVE_CURRENCIES

__all__ = [
    "MAX_AMOUNT_MINOR",
    "Currency",
    "Money",
    "all_currencies",
    "currency",
    "parse_amount",
    "split_by_ratio",
]

MAX_AMOUNT_MINOR: Final = 10**15
"""Exclusive upper bound on any single amount, in minor units.

10**15 cents is ten trillion dollars: more than any one payment, yet even nine thousand such
amounts added together still fit a signed 64-bit integer (whose limit is about 9.2 * 10**18).
"""

_MAX_AMOUNT_TEXT_LENGTH: Final = 40
"""Longest amount text looked at. Anything longer is refused before it reaches the regex."""

_AMOUNT_PATTERN: Final = re.compile(
    r"(?P<whole>0|[1-9][0-9]*)(?:\.(?P<fraction>[0-9]+))?", re.ASCII
)
"""A plain decimal: no sign, no exponent, no separators, no leading zeros, ASCII digits only."""

_DECIMAL_PRECISION: Final = 64
"""Significant digits allowed while converting a ``Decimal``; far more than any amount needs."""


# --------------------------------------------------------------------------- currencies


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency, as far as money arithmetic needs to know it."""

    code: str
    numeric: str
    minor_units: int
    name: str
    is_fund: bool

    @property
    def smallest_unit(self) -> Decimal:
        """The value of one minor unit in major units: ``Decimal("0.01")`` for USD."""
        return Decimal((0, (1,), -self.minor_units))


_CURRENCIES: Final[tuple[Currency, ...]] = tuple(
    Currency(entry.code, entry.numeric, entry.minor_units, entry.name, entry.is_fund)
    for entry in ACTIVE_CURRENCIES
)

_BY_CODE: Final[Mapping[str, Currency]] = MappingProxyType({c.code: c for c in _CURRENCIES})


def currency(code: str) -> Currency:
    """Look up an active currency by its exact upper-case ISO 4217 code.

    The lookup does not normalise its input (no ``strip()``, no ``upper()``): a code that
    arrives as ``" usd"`` came from a caller that is not following the contract, and it is
    better to tell that caller than to guess.
    """
    found = _BY_CODE.get(code) if isinstance(code, str) else None
    if found is None:
        raise UnknownCurrency(
            f"{_preview(code)} is not an active ISO 4217 currency code",
            currency=_preview(code),
        )
    return found


def all_currencies() -> tuple[Currency, ...]:
    """Every currency :func:`currency` accepts, in alphabetical order of code."""
    return _CURRENCIES


def _resolve(currency_or_code: Currency | str) -> Currency:
    """Accept either a :class:`Currency` or its code, as the public functions do."""
    if isinstance(currency_or_code, Currency):
        return currency_or_code
    return currency(currency_or_code)


def _preview(value: object) -> str:
    """A short, printable rendering of untrusted input for error messages and context."""
    return repr(value)[:_MAX_AMOUNT_TEXT_LENGTH]


# ------------------------------------------------------------------------------ parsing


def parse_amount(text: str, currency: Currency | str, *, allow_zero: bool = False) -> int:
    """Turn decimal text such as ``"100.25"`` into minor units (``10025`` for USD).

    Only the plain form is accepted: ASCII digits, at most one ``.`` with digits on both
    sides, no sign, no leading zeros, no spaces, no exponent, no separators. The fraction may
    be shorter than the currency's exponent (``"1.5"`` USD is 150) but never longer, not even
    with trailing zeros (``"100.00"`` JPY is refused): a caller that sends more decimals than
    the currency has has misunderstood the currency, and guessing would hide that.

    Zero is refused unless ``allow_zero`` is set, and so is anything at or above
    :data:`MAX_AMOUNT_MINOR`. Nothing is ever rounded.
    """
    unit = _resolve(currency)
    if not isinstance(text, str):
        raise _invalid_amount(text, unit, "an amount must be given as a string")
    if len(text) > _MAX_AMOUNT_TEXT_LENGTH:
        raise _invalid_amount(
            text, unit, f"an amount may be at most {_MAX_AMOUNT_TEXT_LENGTH} characters long"
        )
    match = _AMOUNT_PATTERN.fullmatch(text)
    if match is None:
        raise _invalid_amount(
            text, unit, "an amount must be a plain decimal such as 1234.56, with no sign"
        )
    whole, fraction = match["whole"], match["fraction"] or ""
    if len(fraction) > unit.minor_units:
        raise _invalid_amount(
            text, unit, f"{unit.code} allows at most {unit.minor_units} decimal places"
        )
    minor = int(whole + fraction.ljust(unit.minor_units, "0"))
    _check_range(minor, text, unit, allow_zero=allow_zero)
    return minor


def _check_range(minor: int, text: str, unit: Currency, *, allow_zero: bool) -> None:
    """Refuse zero (unless allowed) and amounts at or above the single-amount bound."""
    if minor == 0 and not allow_zero:
        raise _invalid_amount(text, unit, "the amount must be greater than zero")
    if minor >= MAX_AMOUNT_MINOR:
        raise _invalid_amount(
            text, unit, f"the amount must be less than {MAX_AMOUNT_MINOR} minor units"
        )


def _invalid_amount(text: object, unit: Currency, reason: str) -> InvalidAmount:
    """Build the refusal for a bad amount, with context an operator can act on."""
    return InvalidAmount(
        f"invalid {unit.code} amount {_preview(text)}: {reason}",
        amount=_preview(text),
        currency=unit.code,
    )


# -------------------------------------------------------------------------------- money


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of one currency, held as a whole number of its minor units.

    ``minor`` is not bounded by :data:`MAX_AMOUNT_MINOR`: that bound is for single amounts
    coming in, whereas a ``Money`` may also be a balance or a total. It may be negative.
    """

    minor: int
    currency: Currency

    def __post_init__(self) -> None:
        if not isinstance(self.currency, Currency):
            raise TypeError(f"Money needs a Currency, not {type(self.currency).__name__}")
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError(
                f"Money counts whole minor units as int, not {type(self.minor).__name__}"
            )

    # construction

    @classmethod
    def of(cls, minor: int, currency: Currency | str) -> Money:
        """Money from a count of minor units: ``Money.of(10025, "USD")`` is 100.25 USD."""
        return cls(minor, _resolve(currency))

    @classmethod
    def parse(cls, text: str, currency: Currency | str, *, allow_zero: bool = False) -> Money:
        """Money from decimal text, with every check of :func:`parse_amount`."""
        unit = _resolve(currency)
        return cls(parse_amount(text, unit, allow_zero=allow_zero), unit)

    @classmethod
    def from_decimal(
        cls, value: Decimal, currency: Currency | str, *, rounding: str | None = None
    ) -> Money:
        """Money from a ``Decimal`` in major units, such as the result of an interest rule.

        Without ``rounding`` the conversion must be exact: ``Decimal("1.005")`` USD is
        refused, while ``Decimal("1.500")`` USD is exactly 150 cents and accepted (the value
        counts, not how many zeros it was written with). With a rounding mode from the
        ``decimal`` module, such as ``ROUND_HALF_EVEN``, the value is rounded to the minor
        unit, because the caller asked for it by name. NaN and infinities are refused.
        """
        unit = _resolve(currency)
        if not isinstance(value, Decimal):
            raise TypeError(f"from_decimal needs a Decimal, not {type(value).__name__}")
        if not value.is_finite():
            raise _invalid_amount(value, unit, "the amount must be a finite number")
        return cls(_decimal_to_minor(value, unit, rounding), unit)

    # conversion

    def to_decimal(self) -> Decimal:
        """The exact value in major units, with the currency's exponent.

        ``Decimal("100.00")`` for 10000 USD, ``Decimal("5")`` for 5 JPY.
        """
        sign, digits, _ = Decimal(self.minor).as_tuple()
        return Decimal((sign, digits, -self.currency.minor_units))

    def amount_string(self) -> str:
        """The amount as plain decimal text with exactly the currency's decimals.

        ``"100.00"`` USD, ``"-0.05"`` USD, ``"1250"`` JPY, ``"1.250"`` BHD. For a positive
        amount below :data:`MAX_AMOUNT_MINOR`, :func:`parse_amount` reads it back unchanged.
        """
        exponent = self.currency.minor_units
        whole, fraction = divmod(abs(self.minor), 10**exponent)
        sign = "-" if self.minor < 0 else ""
        if exponent == 0:
            return f"{sign}{whole}"
        return f"{sign}{whole}.{fraction:0{exponent}d}"

    def __str__(self) -> str:
        return f"{self.amount_string()} {self.currency.code}"

    # properties

    @property
    def is_zero(self) -> bool:
        return self.minor == 0

    @property
    def is_positive(self) -> bool:
        return self.minor > 0

    @property
    def is_negative(self) -> bool:
        return self.minor < 0

    # arithmetic: only within one currency

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "add")
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "subtract")
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    # ordering: only within one currency (equality is the dataclass's: value and currency)

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "compare")
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "compare")
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "compare")
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "compare")
        return self.minor >= other.minor

    def _require_same_currency(self, other: Money, verb: str) -> None:
        """Refuse to mix currencies: 1 USD + 1 EUR has no answer without an exchange rate."""
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"cannot {verb} {self.currency.code} and {other.currency.code}",
                currency=self.currency.code,
                other_currency=other.currency.code,
            )


def _decimal_to_minor(value: Decimal, unit: Currency, rounding: str | None) -> int:
    """Convert a finite ``Decimal`` in major units to minor units, exactly or as told.

    The arithmetic runs in a local context, so neither the thread's ambient precision nor
    its rounding mode can change the result.
    """
    context = Context(
        prec=_DECIMAL_PRECISION, rounding=rounding or ROUND_HALF_EVEN, traps=[InvalidOperation]
    )
    try:
        quantized = value.quantize(unit.smallest_unit, context=context)
    except InvalidOperation:
        raise _invalid_amount(value, unit, "the amount is too large to convert") from None
    if rounding is None and quantized != value:
        raise _invalid_amount(
            value,
            unit,
            f"{unit.code} allows at most {unit.minor_units} decimal places; "
            "pass a rounding mode to round on purpose",
        )
    return int(quantized.scaleb(unit.minor_units, context=context))


# ---------------------------------------------------------------------------- splitting


def split_by_ratio(total_minor: int, weights: Sequence[int]) -> list[int]:
    """Share ``total_minor`` out in proportion to ``weights`` without losing or adding a unit.

    Uses the largest-remainder method: every part first gets the whole units of its exact
    share, then the units left over go one each to the parts with the largest remainders,
    the earliest part first on a tie. So 100 by ``[1, 1, 1]`` is ``[34, 33, 33]``, the parts
    always add up to the total, and each part is less than one unit from its exact share.
    A negative total is split as its absolute value and negated.

    Weights must be non-negative integers, at least one of them positive; anything else
    raises ``ValueError``. A part with weight zero always gets zero.
    """
    if isinstance(total_minor, bool) or not isinstance(total_minor, int):
        raise TypeError(f"total_minor must be an int, not {type(total_minor).__name__}")
    _check_weights(weights)
    if total_minor < 0:
        return [-part for part in split_by_ratio(-total_minor, weights)]

    weight_sum = sum(weights)
    shares = [divmod(total_minor * weight, weight_sum) for weight in weights]
    parts = [whole for whole, _ in shares]
    left_over = total_minor - sum(parts)
    by_largest_remainder = sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))
    for index in by_largest_remainder[:left_over]:
        parts[index] += 1
    return parts


def _check_weights(weights: Sequence[int]) -> None:
    """Weights must be non-negative ints (bool is not a weight), at least one positive."""
    if not weights:
        raise ValueError("split_by_ratio needs at least one weight")
    for weight in weights:
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise ValueError(f"weights must be integers, got {weight!r}")
        if weight < 0:
            raise ValueError(f"weights must not be negative, got {weight}")
    if not any(weights):
        raise ValueError("at least one weight must be positive")
