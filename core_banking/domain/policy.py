"""The bank's business rules that come from configuration, turned into minor units.

Operators write limits in major units ("100000.00"), once for every currency. A currency
with fewer decimals than the configured value gets the stricter side of it: limits on what
may move are rounded down, the minimum balance to keep is rounded up. The conversions are
made once per currency and remembered, since every posting asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from core_banking.domain.errors import TransactionLimitExceeded
from core_banking.domain.ledger import AccountLimits
from core_banking.domain.money import Money, currency


@dataclass(frozen=True, slots=True)
class _CurrencyRules:
    limits: AccountLimits
    max_transaction: Money


@dataclass(frozen=True, slots=True)
class BusinessPolicy:
    max_transaction_amount: Decimal
    max_daily_transaction_limit: Decimal
    min_account_balance: Decimal
    _rules: dict[str, _CurrencyRules] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def limits_for(self, currency_code: str) -> AccountLimits:
        return self._rules_for(currency_code).limits

    def check_transaction_amount(self, amount: Money) -> None:
        """Refuse any single movement above NEXUM_MAX_TRANSACTION_AMOUNT."""
        maximum = self._rules_for(amount.currency.code).max_transaction
        if amount.minor > maximum.minor:
            raise TransactionLimitExceeded(
                f"a single transaction is at most {maximum.amount_string()} {amount.currency.code}",
                limit=maximum.amount_string(),
            )

    def _rules_for(self, currency_code: str) -> _CurrencyRules:
        rules = self._rules.get(currency_code)
        if rules is None:
            unit = currency(currency_code)
            rules = _CurrencyRules(
                limits=AccountLimits(
                    min_balance_minor=Money.from_decimal(
                        self.min_account_balance, unit, rounding=ROUND_CEILING
                    ).minor,
                    daily_limit_minor=Money.from_decimal(
                        self.max_daily_transaction_limit, unit, rounding=ROUND_FLOOR
                    ).minor,
                ),
                max_transaction=Money.from_decimal(
                    self.max_transaction_amount, unit, rounding=ROUND_FLOOR
                ),
            )
            self._rules[currency_code] = rules
        return rules
