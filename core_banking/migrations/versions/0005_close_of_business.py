"""The close of business: the business calendar, and each run's progress by step.

Revision ID: 0005_close_of_business
Revises: 0004_products
Create Date: 2026-11-28
"""

from collections.abc import Sequence

revision: str = "0005_close_of_business"
down_revision: str | None = "0004_products"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
