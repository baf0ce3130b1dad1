"""The bank's own chart of accounts: general-ledger accounts that exist once per currency.

Customer deposit accounts are the bank's liabilities; the other side of every customer
movement lands on one of these. Their ids are derived from code and currency (UUID v5), so
any process can name "USD cash" without a lookup, and creating them twice is harmless.

    code  name                     type       the other side of
    1000  Cash and vault           asset      deposits and withdrawals at a branch or ATM
    1100  External clearing        asset      payments to and from other banks
    1200  Loans receivable         asset      term-loan principal, until repaid or written off
    1210  Interest receivable      asset      loan and credit-line interest accrued, not yet paid
    1220  Fees receivable          asset      fees and penalties charged to a loan, not yet paid
    1300  Credit lines receivable  asset      drawn balances of revolving credit lines
    2100  Interest payable         liability  deposit interest accrued, not yet credited
    2200  Loan credit balances     liability  loan overpayments kept as a credit for the borrower
    2900  Suspense                 liability  items waiting to be identified
    3000  Retained earnings        equity     closing income and expense at year end
    4000  Interest income          income     interest the bank earns
    4100  Fee income               income     fees charged to customers
    4200  Penalty income           income     late-payment fees and other penalties
    5000  Interest expense         expense    interest the bank pays on deposits
    5100  Loan loss expense        expense    loans and credit lines written off
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from core_banking.domain.accounts import AccountType

_NAMESPACE = uuid.UUID("6f1c3a52-4d8e-4f0e-9a57-1d3c2b7e9a10")


class GLCode(StrEnum):
    CASH = "1000"
    EXTERNAL_CLEARING = "1100"
    LOANS_RECEIVABLE = "1200"
    INTEREST_RECEIVABLE = "1210"
    FEES_RECEIVABLE = "1220"
    CREDIT_LINES_RECEIVABLE = "1300"
    INTEREST_PAYABLE = "2100"
    LOAN_CREDITS = "2200"
    SUSPENSE = "2900"
    RETAINED_EARNINGS = "3000"
    INTEREST_INCOME = "4000"
    FEE_INCOME = "4100"
    PENALTY_INCOME = "4200"
    INTEREST_EXPENSE = "5000"
    LOAN_LOSS_EXPENSE = "5100"


@dataclass(frozen=True, slots=True)
class GLAccountSpec:
    code: GLCode
    name: str
    account_type: AccountType


CHART: tuple[GLAccountSpec, ...] = (
    GLAccountSpec(GLCode.CASH, "Cash and vault", AccountType.ASSET),
    GLAccountSpec(GLCode.EXTERNAL_CLEARING, "External clearing", AccountType.ASSET),
    GLAccountSpec(GLCode.LOANS_RECEIVABLE, "Loans receivable", AccountType.ASSET),
    GLAccountSpec(GLCode.INTEREST_RECEIVABLE, "Interest receivable", AccountType.ASSET),
    GLAccountSpec(GLCode.FEES_RECEIVABLE, "Fees receivable", AccountType.ASSET),
    GLAccountSpec(GLCode.CREDIT_LINES_RECEIVABLE, "Credit lines receivable", AccountType.ASSET),
    GLAccountSpec(GLCode.INTEREST_PAYABLE, "Interest payable", AccountType.LIABILITY),
    GLAccountSpec(GLCode.LOAN_CREDITS, "Loan credit balances", AccountType.LIABILITY),
    GLAccountSpec(GLCode.SUSPENSE, "Suspense", AccountType.LIABILITY),
    GLAccountSpec(GLCode.RETAINED_EARNINGS, "Retained earnings", AccountType.EQUITY),
    GLAccountSpec(GLCode.INTEREST_INCOME, "Interest income", AccountType.INCOME),
    GLAccountSpec(GLCode.FEE_INCOME, "Fee income", AccountType.INCOME),
    GLAccountSpec(GLCode.PENALTY_INCOME, "Penalty income", AccountType.INCOME),
    GLAccountSpec(GLCode.INTEREST_EXPENSE, "Interest expense", AccountType.EXPENSE),
    GLAccountSpec(GLCode.LOAN_LOSS_EXPENSE, "Loan loss expense", AccountType.EXPENSE),
)


def gl_account_id(code: GLCode, currency: str) -> uuid.UUID:
    """The fixed id of general-ledger account ``code`` in ``currency``."""
    return uuid.uuid5(_NAMESPACE, f"gl:{code.value}:{currency}")
