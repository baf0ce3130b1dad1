"""Product bodies: a product's kind, name, currency and definition, in and out alike.

A definition is read and written in the same shape, so a client can fetch a version, change
it and send it back as the next one. Money follows the API's rule: ``{"amount": "5.00",
"currency": "USD"}``, a decimal string in the product's currency with no more decimals than
the currency has. Rates are decimal strings of the fraction itself: ``"0.0525"`` is 5.25 %
a year, never a JSON number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from core_banking.api.schemas.common import CurrencyCode, MoneyIn, RequestModel, decimal_text
from core_banking.domain.errors import CurrencyMismatch, InvalidAmount
from core_banking.domain.lending._checks import MAX_RATE_DECIMALS
from core_banking.domain.lending.allocation import (
    STANDARD_ORDER,
    AllocationOrder,
    Component,
    OverpaymentPolicy,
)
from core_banking.domain.lending.catalog import Product, ProductKind, ProductRecord
from core_banking.domain.lending.credit_line_products import (
    MAX_GRACE_DAYS,
    CreditLineProduct,
    MinimumPaymentRule,
)
from core_banking.domain.lending.dates import MAX_INSTALLMENTS, RepaymentFrequency
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.deposit_products import (
    MAX_TERM_DAYS,
    DepositKind,
    DepositProduct,
    DepositTerm,
    InterestPostingFrequency,
    MaturityAction,
    TermDepositTerms,
    TermUnit,
)
from core_banking.domain.lending.fees import FeeKind, FeeRule
from core_banking.domain.lending.loan_products import (
    MAX_LATE_FEE_GRACE_DAYS,
    AmortizationMethod,
    GracePeriods,
    PrepaymentStrategy,
    TermLoanProduct,
)
from core_banking.domain.lending.products import MAX_NAME_LENGTH, ProductStatus
from core_banking.domain.lending.rates import (
    MAX_TIERS,
    Compounding,
    FixedRate,
    InterestRate,
    RateTier,
    TieredRate,
    TierMethod,
    parse_annual_rate,
)
from core_banking.domain.money import Currency, Money

RATE_PATTERN = rf"^(0|[1-9][0-9]{{0,2}})(\.[0-9]{{1,{MAX_RATE_DECIMALS}}})?$"

Rate = Annotated[
    str,
    StringConstraints(pattern=RATE_PATTERN, max_length=4 + MAX_RATE_DECIMALS),
    Field(
        examples=["0.0525"],
        description="A fraction as a decimal string: 0.0525 is 5.25 %. Never a number.",
    ),
]
ProductName = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]


def _minor(money: MoneyIn, unit: Currency, field: str) -> int:
    """Minor units of ``money``, which must be in the product's currency; more decimals
    than the currency has are refused, never rounded."""
    if money.currency != unit.code:
        raise CurrencyMismatch(
            f"{field} must be in the product's currency {unit.code}", field=field
        )
    try:
        return Money.parse(money.amount, unit, allow_zero=True).minor
    except InvalidAmount as refused:  # name the field: a definition has many amounts
        raise InvalidAmount(f"{field}: {refused.message}", field=field) from None


def _money(minor: int, unit: Currency) -> MoneyIn:
    return MoneyIn(amount=Money.of(minor, unit).amount_string(), currency=unit.code)


# --- fees and rates ---------------------------------------------------------------------


class FixedFee(RequestModel):
    kind: Literal[FeeKind.FIXED]
    amount: MoneyIn


class PercentFee(RequestModel):
    kind: Literal[FeeKind.PERCENT]
    rate: Rate = Field(description="Of what the fee is charged on: 0.02 is 2 %.")


Fee = Annotated[FixedFee | PercentFee, Field(discriminator="kind")]


def _fee(fee: FixedFee | PercentFee, unit: Currency, field: str) -> FeeRule:
    if isinstance(fee, FixedFee):
        return FeeRule.fixed(_minor(fee.amount, unit, f"{field}.amount"))
    return FeeRule.percent(parse_annual_rate(fee.rate, f"{field}.rate"))


def _optional_fee(fee: FixedFee | PercentFee | None, unit: Currency, field: str) -> FeeRule | None:
    return None if fee is None else _fee(fee, unit, field)


def _fee_out(rule: FeeRule, unit: Currency) -> FixedFee | PercentFee:
    if rule.kind is FeeKind.FIXED:
        return FixedFee(kind=FeeKind.FIXED, amount=_money(rule.amount_minor, unit))
    return PercentFee(kind=FeeKind.PERCENT, rate=decimal_text(rule.rate))


def _optional_fee_out(rule: FeeRule | None, unit: Currency) -> FixedFee | PercentFee | None:
    return None if rule is None else _fee_out(rule, unit)


class FixedRateIn(RequestModel):
    type: Literal["fixed"]
    annual_rate: Rate


class RateTierIn(RequestModel):
    from_balance: MoneyIn = Field(description="The tier applies from this balance upwards.")
    annual_rate: Rate


class TieredRateIn(RequestModel):
    type: Literal["tiered"]
    method: TierMethod = Field(
        description="banded: each band of the balance earns its own rate; whole: the whole "
        "balance earns the rate of the highest tier it reaches."
    )
    tiers: list[RateTierIn] = Field(min_length=1, max_length=MAX_TIERS)


InterestRateIn = Annotated[FixedRateIn | TieredRateIn, Field(discriminator="type")]


def _interest_rate(rate: FixedRateIn | TieredRateIn, unit: Currency) -> InterestRate:
    if isinstance(rate, FixedRateIn):
        return FixedRate(parse_annual_rate(rate.annual_rate, "rate.annual_rate"))
    return TieredRate(
        tiers=tuple(
            RateTier(
                _minor(tier.from_balance, unit, f"rate.tiers.{index}.from_balance"),
                parse_annual_rate(tier.annual_rate, f"rate.tiers.{index}.annual_rate"),
            )
            for index, tier in enumerate(rate.tiers)
        ),
        method=rate.method,
    )


def _interest_rate_out(rate: InterestRate, unit: Currency) -> FixedRateIn | TieredRateIn:
    if isinstance(rate, FixedRate):
        return FixedRateIn(type="fixed", annual_rate=decimal_text(rate.annual_rate))
    return TieredRateIn(
        type="tiered",
        method=rate.method,
        tiers=[
            RateTierIn(
                from_balance=_money(tier.from_minor, unit),
                annual_rate=decimal_text(tier.annual_rate),
            )
            for tier in rate.tiers
        ],
    )


# --- deposit products -------------------------------------------------------------------


class DepositTermIn(RequestModel):
    length: int = Field(ge=1, le=MAX_TERM_DAYS)
    unit: TermUnit


class TermDepositIn(RequestModel):
    term: DepositTermIn
    maturity_action: MaturityAction
    early_withdrawal_penalty: Fee = Field(description="Charged on what is withdrawn early.")


class DepositDefinition(RequestModel):
    deposit_type: DepositKind = Field(
        description="savings and checking products open accounts of that type; a "
        "term_deposit product opens term deposits (/term-deposits)."
    )
    rate: InterestRateIn
    day_count: DayCount
    compounding: Compounding
    posting_frequency: InterestPostingFrequency
    monthly_maintenance_fee: MoneyIn
    transaction_fee: MoneyIn
    minimum_opening_balance: MoneyIn
    term_deposit: TermDepositIn | None = Field(
        None, description="A term deposit's terms; only a term deposit has them."
    )

    def to_terms(self, unit: Currency) -> dict[str, Any]:
        term = self.term_deposit
        return {
            "kind": self.deposit_type,
            "rate": _interest_rate(self.rate, unit),
            "day_count": self.day_count,
            "compounding": self.compounding,
            "posting_frequency": self.posting_frequency,
            "monthly_maintenance_fee_minor": _minor(
                self.monthly_maintenance_fee, unit, "monthly_maintenance_fee"
            ),
            "transaction_fee_minor": _minor(self.transaction_fee, unit, "transaction_fee"),
            "minimum_opening_minor": _minor(
                self.minimum_opening_balance, unit, "minimum_opening_balance"
            ),
            "term_deposit": None
            if term is None
            else TermDepositTerms(
                term=DepositTerm(term.term.length, term.term.unit),
                maturity_action=term.maturity_action,
                early_withdrawal_penalty=_fee(
                    term.early_withdrawal_penalty, unit, "term_deposit.early_withdrawal_penalty"
                ),
            ),
        }

    @classmethod
    def of(cls, product: DepositProduct) -> DepositDefinition:
        unit, term = product.currency, product.term_deposit
        return cls(
            deposit_type=product.kind,
            rate=_interest_rate_out(product.rate, unit),
            day_count=product.day_count,
            compounding=product.compounding,
            posting_frequency=product.posting_frequency,
            monthly_maintenance_fee=_money(product.monthly_maintenance_fee_minor, unit),
            transaction_fee=_money(product.transaction_fee_minor, unit),
            minimum_opening_balance=_money(product.minimum_opening_minor, unit),
            term_deposit=None
            if term is None
            else TermDepositIn(
                term=DepositTermIn(length=term.term.length, unit=term.term.unit),
                maturity_action=term.maturity_action,
                early_withdrawal_penalty=_fee_out(term.early_withdrawal_penalty, unit),
            ),
        )


# --- term loan products -----------------------------------------------------------------


class GraceIn(RequestModel):
    principal_periods: int = Field(0, ge=0, le=MAX_INSTALLMENTS)
    interest_periods: int = Field(0, ge=0, le=MAX_INSTALLMENTS)


class TermLoanDefinition(RequestModel):
    annual_rate: Rate
    day_count: DayCount
    method: AmortizationMethod
    frequency: RepaymentFrequency
    min_amount: MoneyIn
    max_amount: MoneyIn
    min_installments: int = Field(ge=1, le=MAX_INSTALLMENTS)
    max_installments: int = Field(ge=1, le=MAX_INSTALLMENTS)
    late_fee: Fee | None = None
    late_fee_grace_days: int = Field(ge=0, le=MAX_LATE_FEE_GRACE_DAYS)
    early_repayment_fee: Fee | None = None
    grace: GraceIn = Field(default_factory=GraceIn)
    allocation_order: list[Component] = Field(
        default_factory=lambda: list(STANDARD_ORDER.components),
        min_length=len(Component),
        max_length=len(Component),
        description="The order a repayment pays an installment's parts, each named once.",
    )
    prepayment_strategy: PrepaymentStrategy = PrepaymentStrategy.REDUCE_TERM
    overpayment_policy: OverpaymentPolicy = OverpaymentPolicy.REFUSE

    def to_terms(self, unit: Currency) -> dict[str, Any]:
        return {
            "annual_rate": parse_annual_rate(self.annual_rate, "annual_rate"),
            "day_count": self.day_count,
            "method": self.method,
            "frequency": self.frequency,
            "min_amount_minor": _minor(self.min_amount, unit, "min_amount"),
            "max_amount_minor": _minor(self.max_amount, unit, "max_amount"),
            "min_installments": self.min_installments,
            "max_installments": self.max_installments,
            "late_fee": _optional_fee(self.late_fee, unit, "late_fee"),
            "late_fee_grace_days": self.late_fee_grace_days,
            "early_repayment_fee": _optional_fee(
                self.early_repayment_fee, unit, "early_repayment_fee"
            ),
            "grace": GracePeriods(self.grace.principal_periods, self.grace.interest_periods),
            "allocation_order": AllocationOrder(tuple(self.allocation_order)),
            "prepayment_strategy": self.prepayment_strategy,
            "overpayment_policy": self.overpayment_policy,
        }

    @classmethod
    def of(cls, product: TermLoanProduct) -> TermLoanDefinition:
        unit = product.currency
        return cls(
            annual_rate=decimal_text(product.annual_rate),
            day_count=product.day_count,
            method=product.method,
            frequency=product.frequency,
            min_amount=_money(product.min_amount_minor, unit),
            max_amount=_money(product.max_amount_minor, unit),
            min_installments=product.min_installments,
            max_installments=product.max_installments,
            late_fee=_optional_fee_out(product.late_fee, unit),
            late_fee_grace_days=product.late_fee_grace_days,
            early_repayment_fee=_optional_fee_out(product.early_repayment_fee, unit),
            grace=GraceIn(
                principal_periods=product.grace.principal_periods,
                interest_periods=product.grace.interest_periods,
            ),
            allocation_order=list(product.allocation_order.components),
            prepayment_strategy=product.prepayment_strategy,
            overpayment_policy=product.overpayment_policy,
        )


# --- credit line products ---------------------------------------------------------------


class MinimumPaymentIn(RequestModel):
    rate: Rate = Field(description="Of the statement's closing balance: 0.05 is 5 %.")
    floor: MoneyIn = Field(description="At least this much (never more than the balance).")


class CreditLineDefinition(RequestModel):
    max_limit: MoneyIn
    annual_rate: Rate
    day_count: DayCount
    statement_day: int = Field(ge=1, le=31, description="A shorter month uses its last day.")
    minimum_payment: MinimumPaymentIn
    grace_days: int = Field(ge=0, le=MAX_GRACE_DAYS)
    late_fee: Fee | None = None

    def to_terms(self, unit: Currency) -> dict[str, Any]:
        return {
            "max_limit_minor": _minor(self.max_limit, unit, "max_limit"),
            "annual_rate": parse_annual_rate(self.annual_rate, "annual_rate"),
            "day_count": self.day_count,
            "statement_day": self.statement_day,
            "minimum_payment": MinimumPaymentRule(
                parse_annual_rate(self.minimum_payment.rate, "minimum_payment.rate"),
                _minor(self.minimum_payment.floor, unit, "minimum_payment.floor"),
            ),
            "grace_days": self.grace_days,
            "late_fee": _optional_fee(self.late_fee, unit, "late_fee"),
        }

    @classmethod
    def of(cls, product: CreditLineProduct) -> CreditLineDefinition:
        unit = product.currency
        return cls(
            max_limit=_money(product.max_limit_minor, unit),
            annual_rate=decimal_text(product.annual_rate),
            day_count=product.day_count,
            statement_day=product.statement_day,
            minimum_payment=MinimumPaymentIn(
                rate=decimal_text(product.minimum_payment.rate),
                floor=_money(product.minimum_payment.floor_minor, unit),
            ),
            grace_days=product.grace_days,
            late_fee=_optional_fee_out(product.late_fee, unit),
        )


Definition = DepositDefinition | TermLoanDefinition | CreditLineDefinition


def definition_of(product: Product) -> Definition:
    if isinstance(product, DepositProduct):
        return DepositDefinition.of(product)
    if isinstance(product, TermLoanProduct):
        return TermLoanDefinition.of(product)
    return CreditLineDefinition.of(product)


# --- request and response bodies --------------------------------------------------------


class DepositProductVersion(RequestModel):
    kind: Literal[ProductKind.DEPOSIT]
    name: ProductName
    definition: DepositDefinition


class TermLoanProductVersion(RequestModel):
    kind: Literal[ProductKind.TERM_LOAN]
    name: ProductName
    definition: TermLoanDefinition


class CreditLineProductVersion(RequestModel):
    kind: Literal[ProductKind.CREDIT_LINE]
    name: ProductName
    definition: CreditLineDefinition


ProductVersionIn = DepositProductVersion | TermLoanProductVersion | CreditLineProductVersion
"""The next version of a product: its kind (which cannot change), name and definition;
told apart by ``kind``."""


class DepositProductCreate(DepositProductVersion):
    currency: CurrencyCode


class TermLoanProductCreate(TermLoanProductVersion):
    currency: CurrencyCode


class CreditLineProductCreate(CreditLineProductVersion):
    currency: CurrencyCode


ProductCreate = DepositProductCreate | TermLoanProductCreate | CreditLineProductCreate
"""A new product: kind, name, currency (for every version) and definition; told apart by
``kind``."""


class ProductOut(BaseModel):
    product_id: UUID
    version: int
    kind: ProductKind
    status: ProductStatus
    name: str
    currency: str
    definition: Definition = Field(description="In the shape `kind` names.")
    created_at: datetime
    created_by: str = Field(description="Who created this version (user:… or api_key:…).")
    updated_at: datetime = Field(description="When its status last changed.")

    @classmethod
    def of(cls, record: ProductRecord) -> ProductOut:
        product = record.product
        return cls(
            product_id=product.product_id,
            version=product.version,
            kind=record.kind,
            status=product.status,
            name=product.name,
            currency=product.currency.code,
            definition=definition_of(product),
            created_at=record.created_at,
            created_by=record.created_by,
            updated_at=record.updated_at,
        )
