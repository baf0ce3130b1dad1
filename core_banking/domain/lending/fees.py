"""Fee rules as data: a fixed amount, or a percentage of an amount the rule is applied to.

Late fees, early repayment fees and early-withdrawal penalties are all "so much, or so many
per cent of something"; what the something is belongs to the caller (the overdue
installment, the principal repaid early, the amount withdrawn). A percentage fee is rounded
half to even to the minor unit (see :mod:`~core_banking.domain.lending.rounding`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Final

from core_banking.domain.errors import InvalidInput
from core_banking.domain.lending._checks import require_member, require_minor, require_rate
from core_banking.domain.lending.rounding import round_half_even

MAX_FEE_RATE: Final = Decimal(1)
"""A percentage fee is at most 100 % of what it is charged on."""


class FeeKind(StrEnum):
    FIXED = "fixed"
    PERCENT = "percent"


@dataclass(frozen=True, slots=True)
class FeeRule:
    """``FIXED``: ``amount_minor`` each time. ``PERCENT``: ``rate`` (0.02 is 2 %) of the base.

    Build one with :meth:`fixed` or :meth:`percent`; the unused field must stay zero, so a
    rule never carries a number that silently does nothing.
    """

    kind: FeeKind
    amount_minor: int
    rate: Decimal

    def __post_init__(self) -> None:
        require_member(self.kind, FeeKind, "fee.kind")
        require_minor(self.amount_minor, "fee.amount_minor")
        require_rate(self.rate, "fee.rate", maximum=MAX_FEE_RATE)
        unused = self.rate if self.kind is FeeKind.FIXED else self.amount_minor
        if unused != 0:
            raise InvalidInput(
                "a fixed fee has no rate and a percentage fee no fixed amount", field="fee"
            )

    @classmethod
    def fixed(cls, amount_minor: int) -> FeeRule:
        return cls(FeeKind.FIXED, amount_minor, Decimal(0))

    @classmethod
    def percent(cls, rate: Decimal) -> FeeRule:
        return cls(FeeKind.PERCENT, 0, rate)

    def amount_on(self, base_minor: int) -> int:
        """The fee, in minor units, when charged on ``base_minor``."""
        require_minor(base_minor, "fee base")
        if self.kind is FeeKind.FIXED:
            return self.amount_minor
        return round_half_even(base_minor * Fraction(self.rate))
