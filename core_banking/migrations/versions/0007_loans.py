"""Loans: applications, their schedules, and each loan's ledger account.

Revision ID: 0007_loans
Revises: 0006_deposit_interest
Create Date: 2026-11-28
"""

from collections.abc import Sequence

revision: str = "0007_loans"
down_revision: str | None = "0006_deposit_interest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
