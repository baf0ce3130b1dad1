"""Credit lines: revolving limits, draws, payments and monthly statements.

Four tables (storage/schema.py says what each holds): ``credit_lines``, the subledger
``credit_line_movements``, ``credit_line_accruals`` and ``credit_line_statements``. The
accounts table is not touched: a line's balance lives on general-ledger account 1300, with
the movements as its subledger (docs/adr/0009-credit-line-ledger.md). On PostgreSQL the
exact arithmetic of close of business is a handful of SQL functions
(sql/0008_credit_lines.sql); SQLite gets them from the application at run time.

Revision ID: 0008_credit_lines
Revises: 0007_loans
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

from core_banking.migrations.sql import split_sql_script

revision: str = "0008_credit_lines"
down_revision: str | None = "0007_loans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS_SQL = Path(__file__).parent.parent / "sql" / "0008_credit_lines.sql"
_FUNCTIONS = (
    "nexum_credit_line_add(numeric, numeric)",
    "nexum_credit_line_late_fee(numeric, numeric, numeric)",
    "nexum_credit_line_minimum_payment(numeric, numeric, numeric)",
    "nexum_credit_line_carried_residue(numeric, numeric, integer)",
    "nexum_credit_line_billed_minor(numeric, numeric, integer)",
    "nexum_credit_line_daily_accrual(numeric, numeric, integer, integer, integer, integer)",
    "nexum_credit_line_round_half_even(numeric, numeric, integer)",
)
_ENUM_TYPES = (
    "credit_line_statement_status",
    "credit_line_movement_kind",
    "credit_line_day_count",
    "credit_line_status",
)


def _exact() -> sa.types.TypeEngine[Any]:
    """NUMERIC on PostgreSQL, decimal text on SQLite (storage/types.py EXACT_DECIMAL)."""
    return sa.Numeric().with_variant(sa.String(length=48), "sqlite")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, create_constraint=True)


def upgrade() -> None:
    op.create_table(
        "credit_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column(
            "deposit_account_id",
            sa.Uuid(),
            nullable=False,
            comment="draws are paid into it, payments taken from it",
        ),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("product_version", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "minor_units", sa.SmallInteger(), nullable=False, comment="the currency's decimals"
        ),
        sa.Column(
            "status",
            _enum("credit_line_status", "active", "frozen", "overdue", "closed"),
            nullable=False,
        ),
        sa.Column("limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fees_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("annual_rate", _exact(), nullable=False),
        sa.Column(
            "day_count",
            _enum("credit_line_day_count", "actual/365f", "actual/360", "30/360", "30e/360"),
            nullable=False,
        ),
        sa.Column("statement_day", sa.SmallInteger(), nullable=False),
        sa.Column("minimum_payment_rate", _exact(), nullable=False),
        sa.Column("minimum_payment_floor_minor", sa.BigInteger(), nullable=False),
        sa.Column("grace_days", sa.SmallInteger(), nullable=False),
        sa.Column(
            "late_fee_minor",
            sa.BigInteger(),
            nullable=True,
            comment="a fixed late fee; NULL with a rate or none",
        ),
        sa.Column(
            "late_fee_rate",
            _exact(),
            nullable=True,
            comment="a late fee as a share of the unpaid minimum",
        ),
        sa.Column(
            "accrued_interest",
            _exact(),
            nullable=False,
            comment="accrued in the open period, major units",
        ),
        sa.Column("interest_residue", _exact(), nullable=False, comment="carried, major units"),
        sa.Column("accrued_through", sa.Date(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_opening_minor", sa.BigInteger(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("limit_minor > 0", name=op.f("ck_credit_lines_limit_positive")),
        sa.CheckConstraint(
            "principal_minor >= 0 AND interest_minor >= 0 AND fees_minor >= 0",
            name=op.f("ck_credit_lines_owed_not_negative"),
        ),
        sa.CheckConstraint(
            "statement_day BETWEEN 1 AND 31", name=op.f("ck_credit_lines_statement_day_in_month")
        ),
        sa.CheckConstraint(
            "late_fee_minor IS NULL OR late_fee_rate IS NULL",
            name=op.f("ck_credit_lines_late_fee_fixed_or_rate"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_credit_lines_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["deposit_account_id"],
            ["accounts.id"],
            name=op.f("fk_credit_lines_deposit_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id", "product_version"],
            ["products.product_id", "products.version"],
            name=op.f("fk_credit_lines_product_id_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_lines")),
    )
    op.create_index("ix_credit_lines_customer_id", "credit_lines", ["customer_id"])
    op.create_index(
        "ix_credit_lines_status_statement_day", "credit_lines", ["status", "statement_day"]
    )
    op.create_table(
        "credit_line_movements",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("credit_line_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            _enum("credit_line_movement_kind", "draw", "payment", "interest", "late_fee"),
            nullable=False,
        ),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False, comment="signed change owed"),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False, comment="signed change owed"),
        sa.Column("fees_minor", sa.BigInteger(), nullable=False, comment="signed change owed"),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_credit_line_movements_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["credit_line_id"],
            ["credit_lines.id"],
            name=op.f("fk_credit_line_movements_credit_line_id_credit_lines"),
        ),
        sa.PrimaryKeyConstraint(
            "entry_id", "credit_line_id", name=op.f("pk_credit_line_movements")
        ),
    )
    op.create_index(
        "ix_credit_line_movements_credit_line_id_business_date",
        "credit_line_movements",
        ["credit_line_id", "business_date"],
    )
    op.create_table(
        "credit_line_accruals",
        sa.Column("credit_line_id", sa.Uuid(), nullable=False),
        sa.Column("accrual_date", sa.Date(), nullable=False),
        sa.Column(
            "balance_minor", sa.BigInteger(), nullable=False, comment="the day's closing balance"
        ),
        sa.Column("amount", _exact(), nullable=False, comment="the day's interest, major units"),
        sa.ForeignKeyConstraint(
            ["credit_line_id"],
            ["credit_lines.id"],
            name=op.f("fk_credit_line_accruals_credit_line_id_credit_lines"),
        ),
        sa.PrimaryKeyConstraint(
            "credit_line_id", "accrual_date", name=op.f("pk_credit_line_accruals")
        ),
    )
    op.create_table(
        "credit_line_statements",
        sa.Column("credit_line_id", sa.Uuid(), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("opening_minor", sa.BigInteger(), nullable=False),
        sa.Column("draws_minor", sa.BigInteger(), nullable=False),
        sa.Column("payments_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("fees_minor", sa.BigInteger(), nullable=False),
        sa.Column("closing_minor", sa.BigInteger(), nullable=False),
        sa.Column("minimum_payment_minor", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "status",
            _enum("credit_line_statement_status", "due", "paid", "overdue"),
            nullable=False,
        ),
        sa.Column("late_fee_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("accrued_interest", _exact(), nullable=False),
        sa.Column("residue", _exact(), nullable=False),
        sa.Column("interest_entry_id", sa.Uuid(), nullable=True),
        sa.Column("late_fee_entry_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "closing_minor = opening_minor + draws_minor - payments_minor + interest_minor"
            " + fees_minor",
            name=op.f("ck_credit_line_statements_figures_agree"),
        ),
        sa.ForeignKeyConstraint(
            ["credit_line_id"],
            ["credit_lines.id"],
            name=op.f("fk_credit_line_statements_credit_line_id_credit_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["interest_entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_credit_line_statements_interest_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["late_fee_entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_credit_line_statements_late_fee_entry_id_journal_entries"),
        ),
        sa.PrimaryKeyConstraint(
            "credit_line_id", "statement_date", name=op.f("pk_credit_line_statements")
        ),
    )
    op.create_index(
        "ix_credit_line_statements_status_due_date",
        "credit_line_statements",
        ["status", "due_date"],
    )
    op.create_index(
        "ix_credit_line_statements_statement_date",
        "credit_line_statements",
        ["statement_date"],
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in split_sql_script(_FUNCTIONS_SQL.read_text(encoding="utf-8")):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in _FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.drop_index("ix_credit_line_statements_statement_date", table_name="credit_line_statements")
    op.drop_index("ix_credit_line_statements_status_due_date", table_name="credit_line_statements")
    op.drop_table("credit_line_statements")
    op.drop_table("credit_line_accruals")
    op.drop_index(
        "ix_credit_line_movements_credit_line_id_business_date",
        table_name="credit_line_movements",
    )
    op.drop_table("credit_line_movements")
    op.drop_index("ix_credit_lines_status_statement_day", table_name="credit_lines")
    op.drop_index("ix_credit_lines_customer_id", table_name="credit_lines")
    op.drop_table("credit_lines")
    if op.get_bind().dialect.name == "postgresql":
        for enum_type in _ENUM_TYPES:
            op.execute(f"DROP TYPE IF EXISTS {enum_type}")
