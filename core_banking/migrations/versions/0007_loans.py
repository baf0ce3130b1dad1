"""Loans: applications, their schedules, and each loan's ledger account.

Three tables (storage/schema.py says what each holds): ``loans``, ``loan_installments`` and
``loan_prepayments``. Each disbursed loan has a ledger account of its own, of the new account
kind ``loan`` (a customer, no number, no code): docs/adr/0008-loan-ledger-accounts.md.

The new kind changes how accounts are checked. PostgreSQL gains the enum label and the
identity trigger's function learns the new kind. SQLite keeps both rules as CHECK
constraints of the accounts table, which SQLite cannot alter: the table is rebuilt from its
own stored definition with the two constraints changed, so whatever columns earlier
revisions gave it are kept, and every row is copied back (foreign keys deferred to the
commit meanwhile, as 0004 explains).

The downgrade undoes exactly that, and refuses while a loan account exists: its journal
lines are history that cannot be removed, and the old rules would refuse it.

Revision ID: 0007_loans
Revises: 0006_deposit_interest
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core_banking.migrations.sqlite_accounts import rewrite_sqlite_accounts

revision: str = "0007_loans"
down_revision: str | None = "0006_deposit_interest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ENUM_TYPES = ("installment_status", "loan_status", "amortization_method", "repayment_frequency")

# The two account rules as SQLite stores them, before and after this revision.
_KIND_CHECK_BEFORE = "CHECK (kind IN ('gl', 'deposit'))"
_KIND_CHECK_AFTER = "CHECK (kind IN ('gl', 'deposit', 'loan'))"
_IDENTITY_DEPOSIT = (
    "(kind = 'deposit' AND number IS NOT NULL AND customer_id IS NOT NULL AND code IS NULL)"
)
_IDENTITY_LOAN = (
    " OR (kind = 'loan' AND customer_id IS NOT NULL AND code IS NULL AND number IS NULL)"
)

_IDENTITY_FUNCTION = """
CREATE OR REPLACE FUNCTION nexum_check_account_identity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT ((NEW.kind = 'gl' AND NEW.code IS NOT NULL AND NEW.customer_id IS NULL
             AND NEW.number IS NULL)
            OR (NEW.kind = 'deposit' AND NEW.number IS NOT NULL AND NEW.customer_id IS NOT NULL
                AND NEW.code IS NULL){loan_rule}) THEN
        PERFORM nexum_refuse('invalid_account_identity', jsonb_build_object(
            'message', '{message}',
            'account_id', NEW.id));
    END IF;
    RETURN NEW;
END
$$
"""
_LOAN_RULE = """
            OR (NEW.kind = 'loan' AND NEW.customer_id IS NOT NULL AND NEW.code IS NULL
                AND NEW.number IS NULL)"""
_MESSAGE_BEFORE = "a GL account has a code only; a deposit account a number and customer"
_MESSAGE_AFTER = (
    "a GL account has a code only; a deposit account a number and customer;"
    " a loan account a customer only"
)
_IDENTITY_TRIGGER = (
    "CREATE TRIGGER trg_accounts_identity"
    " BEFORE INSERT OR UPDATE OF kind, code, number, customer_id ON accounts"
    " FOR EACH ROW EXECUTE FUNCTION nexum_check_account_identity()"
)


def upgrade() -> None:
    _create_tables()
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE account_kind ADD VALUE 'loan'")
        op.execute(_IDENTITY_FUNCTION.format(loan_rule=_LOAN_RULE, message=_MESSAGE_AFTER))
    else:
        rewrite_sqlite_accounts(
            (_KIND_CHECK_BEFORE, _KIND_CHECK_AFTER),
            (_IDENTITY_DEPOSIT, _IDENTITY_DEPOSIT + _IDENTITY_LOAN),
        )


def downgrade() -> None:
    loan_accounts = op.get_bind().scalar(
        sa.text("SELECT COUNT(*) FROM accounts WHERE kind = 'loan'")
    )
    if loan_accounts:
        raise RuntimeError(
            f"{loan_accounts} loan accounts exist: their history cannot be removed, so 0007 "
            "cannot be undone on this database"
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_IDENTITY_FUNCTION.format(loan_rule="", message=_MESSAGE_BEFORE))
        # PostgreSQL cannot drop an enum label: the type is made again without it. The
        # trigger names the column, so it is set aside while the column changes type.
        op.execute("DROP TRIGGER trg_accounts_identity ON accounts")
        op.execute("ALTER TYPE account_kind RENAME TO account_kind_0007")
        op.execute("CREATE TYPE account_kind AS ENUM ('gl', 'deposit')")
        op.execute(
            "ALTER TABLE accounts ALTER COLUMN kind TYPE account_kind"
            " USING kind::text::account_kind"
        )
        op.execute("DROP TYPE account_kind_0007")
        op.execute(_IDENTITY_TRIGGER)
    else:
        rewrite_sqlite_accounts(
            (_KIND_CHECK_AFTER, _KIND_CHECK_BEFORE),
            (_IDENTITY_DEPOSIT + _IDENTITY_LOAN, _IDENTITY_DEPOSIT),
        )
    op.drop_table("loan_prepayments")
    op.drop_index("ix_loan_installments_status_due_date", table_name="loan_installments")
    op.drop_table("loan_installments")
    op.drop_index("ix_loans_product_id", table_name="loans")
    op.drop_index("ix_loans_status", table_name="loans")
    op.drop_index("ix_loans_customer_id", table_name="loans")
    op.drop_table("loans")
    if op.get_bind().dialect.name == "postgresql":
        for name in _ENUM_TYPES:
            op.execute(f"DROP TYPE IF EXISTS {name}")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, create_constraint=True)


def _create_tables() -> None:
    op.create_table(
        "loans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("product_version", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column(
            "annual_rate",
            sa.String(length=32),
            nullable=False,
            comment="decimal string of the fraction",
        ),
        sa.Column("installments", sa.Integer(), nullable=False),
        sa.Column(
            "frequency",
            _enum("repayment_frequency", "monthly", "biweekly", "weekly"),
            nullable=False,
        ),
        sa.Column(
            "method",
            _enum("amortization_method", "equal_installment", "equal_principal", "bullet"),
            nullable=False,
        ),
        sa.Column(
            "status",
            _enum(
                "loan_status",
                "pending",
                "approved",
                "rejected",
                "active",
                "delinquent",
                "paid_off",
                "written_off",
                "closed",
            ),
            nullable=False,
        ),
        sa.Column("deposit_account_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True, comment="the loan's own"),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "decided_by",
            sa.String(length=200),
            nullable=True,
            comment="who approved or rejected it",
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.String(length=500), nullable=True),
        sa.Column("first_due_date", sa.Date(), nullable=True),
        sa.Column("disbursed_on", sa.Date(), nullable=True),
        sa.Column("maturity_date", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True, comment="paid off or written off on"),
        sa.Column("disbursement_entry_id", sa.Uuid(), nullable=True),
        sa.Column(
            "level_minor",
            sa.BigInteger(),
            nullable=True,
            comment="the schedule's level installment or part",
        ),
        sa.Column("credit_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("days_past_due", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("principal_minor > 0", name=op.f("ck_loans_principal_positive")),
        sa.CheckConstraint("installments > 0", name=op.f("ck_loans_installments_positive")),
        sa.CheckConstraint("credit_minor >= 0", name=op.f("ck_loans_credit_not_negative")),
        sa.CheckConstraint("days_past_due >= 0", name=op.f("ck_loans_days_past_due_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_loans_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_loans_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["deposit_account_id"],
            ["accounts.id"],
            name=op.f("fk_loans_deposit_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["disbursement_entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_loans_disbursement_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id", "product_version"],
            ["products.product_id", "products.version"],
            name=op.f("fk_loans_product_id_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans")),
        sa.UniqueConstraint("account_id", name=op.f("uq_loans_account_id")),
    )
    op.create_index("ix_loans_customer_id", "loans", ["customer_id"], unique=False)
    op.create_index("ix_loans_status", "loans", ["status"], unique=False)
    op.create_index("ix_loans_product_id", "loans", ["product_id"], unique=False)
    op.create_table(
        "loan_installments",
        sa.Column("loan_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("deferred_interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("outstanding_after_minor", sa.BigInteger(), nullable=False),
        sa.Column("penalty_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("principal_paid_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("interest_paid_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("penalty_paid_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "status",
            _enum("installment_status", "scheduled", "due", "overdue", "paid"),
            nullable=False,
        ),
        sa.Column("late_fee_charged_on", sa.Date(), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column(
            "interest_billed_on",
            sa.Date(),
            nullable=True,
            comment="its unpaid interest became receivable",
        ),
        sa.CheckConstraint(
            "principal_paid_minor BETWEEN 0 AND principal_minor",
            name=op.f("ck_loan_installments_principal_paid_within"),
        ),
        sa.CheckConstraint(
            "interest_paid_minor BETWEEN 0 AND interest_minor",
            name=op.f("ck_loan_installments_interest_paid_within"),
        ),
        sa.CheckConstraint(
            "penalty_paid_minor BETWEEN 0 AND penalty_minor",
            name=op.f("ck_loan_installments_penalty_paid_within"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_loan_installments_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("loan_id", "number", name=op.f("pk_loan_installments")),
    )
    op.create_index(
        "ix_loan_installments_status_due_date",
        "loan_installments",
        ["status", "due_date"],
        unique=False,
    )
    op.create_table(
        "loan_prepayments",
        sa.Column("loan_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("deferred_interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("outstanding_after_minor", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_loan_prepayments_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_loan_prepayments_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("loan_id", "seq", name=op.f("pk_loan_prepayments")),
    )
