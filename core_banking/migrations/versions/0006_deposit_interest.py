"""Deposit interest: daily accruals and each account's accrued, unposted interest and residue.

Revision ID: 0006_deposit_interest
Revises: 0005_close_of_business
Create Date: 2026-11-28
"""

from collections.abc import Sequence

revision: str = "0006_deposit_interest"
down_revision: str | None = "0005_close_of_business"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
