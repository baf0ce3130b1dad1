"""Credit lines: revolving limits, draws, payments and monthly statements.

Revision ID: 0008_credit_lines
Revises: 0007_loans
Create Date: 2026-11-28
"""

from collections.abc import Sequence

revision: str = "0008_credit_lines"
down_revision: str | None = "0007_loans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
