"""Term deposits in the domain: maturity dates counted from the first term's start (a
month-end start keeps its month end), day terms, the early-withdrawal penalty, and which
products open a term deposit. Expected dates are calendar facts written out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lending_factories import loan_product, savings_product, term_deposit_product

from core_banking.domain.errors import InvalidInput
from core_banking.domain.lending.deposit_products import (
    DepositTerm,
    MaturityAction,
    TermDepositTerms,
    TermUnit,
)
from core_banking.domain.lending.errors import WrongProductKind
from core_banking.domain.lending.fees import FeeRule
from core_banking.domain.lending.term_deposits import maturity_of_term, term_deposit_terms

MONTH = DepositTerm(1, TermUnit.MONTHS)


@pytest.mark.parametrize(
    ("term_number", "maturity"),
    [
        (1, date(2026, 2, 28)),
        (2, date(2026, 3, 31)),  # from 31 January, never 28 February + 1 month
        (3, date(2026, 4, 30)),
        (12, date(2027, 1, 31)),
        (13, date(2027, 2, 28)),
    ],
)
def test_monthly_terms_keep_the_start_day_or_the_month_end(term_number, maturity):
    assert maturity_of_term(MONTH, date(2026, 1, 31), term_number) == maturity


def test_a_leap_day_start_matures_on_the_last_day_of_february():
    year = DepositTerm(12, TermUnit.MONTHS)
    assert maturity_of_term(year, date(2028, 2, 29), 1) == date(2029, 2, 28)
    assert maturity_of_term(year, date(2028, 2, 29), 4) == date(2032, 2, 29)


def test_day_terms_are_so_many_days_each():
    ninety = DepositTerm(90, TermUnit.DAYS)
    assert maturity_of_term(ninety, date(2026, 12, 1), 1) == date(2027, 3, 1)
    assert maturity_of_term(ninety, date(2026, 12, 1), 2) == date(2027, 5, 30)


def test_a_term_number_is_counted_from_one():
    with pytest.raises(InvalidInput):
        maturity_of_term(MONTH, date(2026, 1, 1), 0)


def test_the_penalty_is_charged_before_maturity_only():
    terms = TermDepositTerms(MONTH, MaturityAction.PAYOUT, FeeRule.percent(Decimal("0.02")))
    maturity = date(2026, 3, 1)
    assert terms.early_withdrawal_penalty_minor(1_000_05, date(2026, 2, 28), maturity) == 20_00
    assert terms.early_withdrawal_penalty_minor(1_000_05, maturity, maturity) == 0


def test_only_a_term_deposit_product_has_term_deposit_terms():
    with pytest.raises(WrongProductKind):
        term_deposit_terms(savings_product())
    with pytest.raises(WrongProductKind):
        term_deposit_terms(loan_product())
    assert term_deposit_terms(term_deposit_product()).maturity_action in MaturityAction
