"""Deposit maintenance fees: each product version's monthly fee, and each account's months.

Two tables (storage/schema.py says what each holds): ``deposit_fee_terms``, the monthly
maintenance fee of each deposit product version as a row SQL can join (derived from
``products.definition`` by the close-of-business step), and ``deposit_maintenance_fees``,
one row per account and month the fee was charged (with its journal entry) or waived (with
the reason): the primary key makes the fee once per account and month. The ledger's
``journal_entries.entry_type`` is free text, so the new entry type needs no change there.

The downgrade drops both tables; the entries already posted stay in the journal (posted
history never changes).

Revision ID: 0009_maintenance_fees
Revises: 0008_credit_lines
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_maintenance_fees"
down_revision: str | None = "0008_credit_lines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deposit_fee_terms",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("product_version", sa.Integer(), nullable=False),
        sa.Column("monthly_maintenance_fee_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "monthly_maintenance_fee_minor >= 0",
            name=op.f("ck_deposit_fee_terms_fee_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id", "product_version"],
            ["products.product_id", "products.version"],
            name=op.f("fk_deposit_fee_terms_product_id_products"),
        ),
        sa.PrimaryKeyConstraint("product_id", "product_version", name=op.f("pk_deposit_fee_terms")),
    )
    op.create_table(
        "deposit_maintenance_fees",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False, comment="its first day"),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=True, comment="the charge; NULL when waived"),
        sa.Column("waived_reason", sa.String(length=32), nullable=True),
        sa.CheckConstraint("fee_minor > 0", name=op.f("ck_deposit_maintenance_fees_fee_positive")),
        sa.CheckConstraint(
            "(entry_id IS NULL) = (waived_reason IS NOT NULL)",
            name=op.f("ck_deposit_maintenance_fees_charged_or_waived"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_deposit_maintenance_fees_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_deposit_maintenance_fees_entry_id_journal_entries"),
        ),
        sa.PrimaryKeyConstraint("account_id", "month", name=op.f("pk_deposit_maintenance_fees")),
    )


def downgrade() -> None:
    op.drop_table("deposit_maintenance_fees")
    op.drop_table("deposit_fee_terms")
