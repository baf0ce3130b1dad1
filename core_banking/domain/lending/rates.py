"""Interest rates as data: a nominal annual rate, fixed or tiered by balance.

A rate is a ``Decimal`` fraction per year (``Decimal("0.0525")`` is 5.25 % a year), parsed
from text and never from a float. Whether "5.25" meant five per cent or five hundred per cent
is a question the API must never have to guess, so the text is the fraction itself.

Tiered rates come in two explicitly named kinds, because products differ and the difference
is large on big balances:

``TierMethod.BANDED``
    Each band of the balance earns its own rate, like income tax brackets. With tiers
    0: 1 %, 10,000: 2 %, a balance of 15,000 earns 1 % on 10,000 and 2 % on 5,000.
``TierMethod.WHOLE``
    The whole balance earns the rate of the highest tier it reaches: the same 15,000 earns
    2 % on all of it.

Compounding says what earns interest besides the balance itself (see :func:`accrual_base`).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Final

from core_banking.domain.errors import InvalidInput
from core_banking.domain.lending._checks import (
    MAX_RATE_DECIMALS,
    require_int,
    require_member,
    require_minor,
    require_rate,
)
from core_banking.domain.money import Currency

MAX_ANNUAL_RATE: Final = Decimal(10)
"""1,000 % a year: above any legal lending rate; anything higher is a typing mistake."""

MAX_TIERS: Final = 20

_RATE_PATTERN: Final = re.compile(
    rf"(?:0|[1-9][0-9]{{0,2}})(?:\.[0-9]{{1,{MAX_RATE_DECIMALS}}})?", re.ASCII
)


def parse_annual_rate(text: str, field: str = "annual_rate") -> Decimal:
    """A nominal annual rate from plain decimal text: ``"0.0525"`` is 5.25 % a year.

    Only ASCII digits with at most one point are accepted (no sign, exponent, spaces or
    percent sign), with at most :data:`MAX_RATE_DECIMALS` decimals and no more than
    :data:`MAX_ANNUAL_RATE`. Anything that is not a ``str`` -- a float above all -- is refused.
    """
    if not isinstance(text, str) or _RATE_PATTERN.fullmatch(text) is None:
        raise InvalidInput(
            f"{field} must be a plain decimal fraction such as 0.0525 (for 5.25 %)", field=field
        )
    rate = Decimal(text)
    require_rate(rate, field, maximum=MAX_ANNUAL_RATE)
    return rate


class TierMethod(StrEnum):
    BANDED = "banded"
    WHOLE = "whole"


@dataclass(frozen=True, slots=True)
class FixedRate:
    """One rate for every balance."""

    annual_rate: Decimal

    def __post_init__(self) -> None:
        require_rate(self.annual_rate, "annual_rate", maximum=MAX_ANNUAL_RATE)

    def yearly_interest(self, base_minor: Fraction) -> Fraction:
        """A year's interest on ``base_minor`` minor units, exactly, in minor units."""
        return base_minor * Fraction(self.annual_rate)


@dataclass(frozen=True, slots=True)
class RateTier:
    """From ``from_minor`` upwards (until the next tier), ``annual_rate`` applies."""

    from_minor: int
    annual_rate: Decimal

    def __post_init__(self) -> None:
        require_minor(self.from_minor, "tiers.from_minor")
        require_rate(self.annual_rate, "tiers.annual_rate", maximum=MAX_ANNUAL_RATE)


@dataclass(frozen=True, slots=True)
class TieredRate:
    """Rates by balance: the first tier starts at zero, thresholds strictly increase."""

    tiers: tuple[RateTier, ...]
    method: TierMethod

    def __post_init__(self) -> None:
        require_member(self.method, TierMethod, "tier_method")
        if not isinstance(self.tiers, tuple) or not all(
            isinstance(tier, RateTier) for tier in self.tiers
        ):
            raise InvalidInput("tiers must be a tuple of RateTier", field="tiers")
        require_int(len(self.tiers), "tiers", minimum=1, maximum=MAX_TIERS)
        if self.tiers[0].from_minor != 0:
            raise InvalidInput("the first tier must start at zero", field="tiers")
        thresholds = [tier.from_minor for tier in self.tiers]
        if any(low >= high for low, high in itertools.pairwise(thresholds)):
            raise InvalidInput("tier thresholds must strictly increase", field="tiers")

    def yearly_interest(self, base_minor: Fraction) -> Fraction:
        """A year's interest on ``base_minor`` minor units, exactly, by the tier method."""
        if self.method is TierMethod.WHOLE:
            reached = [tier for tier in self.tiers if tier.from_minor <= base_minor]
            return base_minor * Fraction(reached[-1].annual_rate)
        total = Fraction(0)
        for index, tier in enumerate(self.tiers):
            if base_minor <= tier.from_minor:
                break
            is_last = index + 1 == len(self.tiers)
            top = (
                base_minor
                if is_last
                else min(base_minor, Fraction(self.tiers[index + 1].from_minor))
            )
            total += (top - tier.from_minor) * Fraction(tier.annual_rate)
        return total


InterestRate = FixedRate | TieredRate
"""What a product's rate may be."""


class Compounding(StrEnum):
    """What interest earns interest.

    ``NONE``        simple interest: only the balance without the interest credited to it
                    earns (a term deposit paying its interest out, for one).
    ``AT_POSTING``  interest earns once it is posted to the balance, so compounding follows
                    the posting frequency (monthly posting, monthly compounding).
    ``DAILY``       interest accrued but not yet posted earns from the next day on.
    """

    NONE = "none"
    AT_POSTING = "at_posting"
    DAILY = "daily"


def accrual_base(
    closing_balance_minor: int,
    currency: Currency,
    compounding: Compounding,
    *,
    credited_interest_minor: int,
    unposted_interest: Decimal,
) -> Fraction:
    """The amount, in minor units, that earns interest for a day.

    ``credited_interest_minor`` is the interest already posted into the balance (it stops
    earning under ``NONE``); ``unposted_interest`` is interest accrued in major units and not
    yet posted (it earns under ``DAILY``). A negative base earns nothing: interest on an
    overdrawn balance is a lending product's business, not a deposit's.
    """
    require_member(compounding, Compounding, "compounding")
    base = Fraction(closing_balance_minor)
    if compounding is Compounding.NONE:
        base -= credited_interest_minor
    elif compounding is Compounding.DAILY:
        base += Fraction(unposted_interest) * 10**currency.minor_units
    return max(base, Fraction(0))
