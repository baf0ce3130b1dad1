"""The bank's business rules that come from configuration, turned into minor units.

Operators write limits in major units ("100000.00"), once for every currency. A currency
with fewer decimals than the configured value gets the stricter side of it: limits on what
may move are rounded down, the minimum balance to keep is rounded up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from core_banking.domain.errors import TransactionLimitExceeded
from core_banking.domain.ledger import AccountLimits
from core_banking.domain.money import Money


@dataclass(frozen=True, slots=True)
class BusinessPolicy:
    max_transaction_amount: Decimal
    max_daily_transaction_limit: Decimal
    min_account_balance: Decimal

    def limits_for(self, currency_code: str) -> AccountLimits:
        return AccountLimits(
            min_balance_minor=Money.from_decimal(
                self.min_account_balance, currency_code, rounding=ROUND_CEILING
            ).minor,
            daily_limit_minor=Money.from_decimal(
                self.max_daily_transaction_limit, currency_code, rounding=ROUND_FLOOR
            ).minor,
        )

    def check_transaction_amount(self, amount: Money) -> None:
        """Refuse any single movement above NEXUM_MAX_TRANSACTION_AMOUNT."""
        maximum = Money.from_decimal(
            self.max_transaction_amount, amount.currency, rounding=ROUND_FLOOR
        )
        if amount.minor > maximum.minor:
            raise TransactionLimitExceeded(
                f"a single transaction is at most {maximum.amount_string()} {amount.currency.code}",
                limit=maximum.amount_string(),
            )
