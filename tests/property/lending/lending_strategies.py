"""Hypothesis strategies for random loans, shared by the lending property tests."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from core_banking.domain.lending.dates import RepaymentFrequency
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.loan_products import AmortizationMethod, GracePeriods
from core_banking.domain.lending.schedule import LoanTerms
from core_banking.domain.money import all_currencies

FIRST_PERIOD_DAYS = {
    RepaymentFrequency.MONTHLY: 62,
    RepaymentFrequency.BIWEEKLY: 28,
    RepaymentFrequency.WEEKLY: 14,
}

rates = st.integers(min_value=0, max_value=5000).map(
    lambda basis_points: Decimal(basis_points).scaleb(-4)
)
"""0 % to 50 % a year, in hundredths of a per cent."""


@st.composite
def loan_terms(draw: st.DrawFn, max_installments: int = 120) -> LoanTerms:
    frequency = draw(st.sampled_from(RepaymentFrequency))
    installments = draw(st.integers(min_value=1, max_value=max_installments))
    principal_grace = draw(st.integers(min_value=0, max_value=min(3, installments - 1)))
    disbursed = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)))
    first_period = draw(st.integers(min_value=1, max_value=FIRST_PERIOD_DAYS[frequency]))
    return LoanTerms(
        principal_minor=draw(
            st.one_of(
                st.integers(min_value=1, max_value=100), st.integers(min_value=1, max_value=10**11)
            )
        ),
        currency=draw(st.sampled_from(all_currencies())),
        annual_rate=draw(rates),
        day_count=draw(st.sampled_from(DayCount)),
        method=draw(st.sampled_from(AmortizationMethod)),
        frequency=frequency,
        installments=installments,
        disbursement_date=disbursed,
        first_due_date=disbursed + timedelta(days=first_period),
        grace=GracePeriods(
            principal_grace, draw(st.integers(min_value=0, max_value=principal_grace))
        ),
    )
