"""Term deposits: the table, and the account kind that holds their money.

``term_deposits`` (storage/schema.py says what it holds) keeps one row per term deposit.
Each term deposit's money is on a ledger account of the new kind ``term_deposit``, which
has a number and a customer like a deposit account, and which ordinary payments cannot name
(docs/term-deposits.md). As for 0007's loan kind, PostgreSQL gains the enum label and the
identity trigger's function learns the new kind; SQLite's two CHECK constraints are changed
by rebuilding its accounts table (migrations/sqlite_accounts.py).

The downgrade undoes exactly that, and refuses while a term deposit account exists: its
journal lines are history that cannot be removed, and the old rules would refuse it.

Revision ID: 0010_term_deposits
Revises: 0009_maintenance_fees
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core_banking.migrations.sqlite_accounts import rewrite_sqlite_accounts

revision: str = "0010_term_deposits"
down_revision: str | None = "0009_maintenance_fees"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ENUM_TYPES = ("term_unit", "maturity_action", "term_deposit_status")

# The two account rules as SQLite stores them, before and after this revision.
_KIND_CHECK_BEFORE = "CHECK (kind IN ('gl', 'deposit', 'loan'))"
_KIND_CHECK_AFTER = "CHECK (kind IN ('gl', 'deposit', 'loan', 'term_deposit'))"
_KIND_TYPE_BEFORE = "kind VARCHAR(7) NOT NULL"  # as long as the longest kind
_KIND_TYPE_AFTER = "kind VARCHAR(12) NOT NULL"
_IDENTITY_BEFORE = (
    "(kind = 'deposit' AND number IS NOT NULL AND customer_id IS NOT NULL AND code IS NULL)"
)
_IDENTITY_AFTER = (
    "(kind IN ('deposit', 'term_deposit') AND number IS NOT NULL"
    " AND customer_id IS NOT NULL AND code IS NULL)"
)

_IDENTITY_FUNCTION = """
CREATE OR REPLACE FUNCTION nexum_check_account_identity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT ((NEW.kind = 'gl' AND NEW.code IS NOT NULL AND NEW.customer_id IS NULL
             AND NEW.number IS NULL)
            OR (NEW.kind IN ({numbered}) AND NEW.number IS NOT NULL
                AND NEW.customer_id IS NOT NULL AND NEW.code IS NULL)
            OR (NEW.kind = 'loan' AND NEW.customer_id IS NOT NULL AND NEW.code IS NULL
                AND NEW.number IS NULL)) THEN
        PERFORM nexum_refuse('invalid_account_identity', jsonb_build_object(
            'message', '{message}',
            'account_id', NEW.id));
    END IF;
    RETURN NEW;
END
$$
"""
_MESSAGE_BEFORE = (
    "a GL account has a code only; a deposit account a number and customer;"
    " a loan account a customer only"
)
_MESSAGE_AFTER = (
    "a GL account has a code only; a deposit or term deposit account a number and customer;"
    " a loan account a customer only"
)
_IDENTITY_TRIGGER = (
    "CREATE TRIGGER trg_accounts_identity"
    " BEFORE INSERT OR UPDATE OF kind, code, number, customer_id ON accounts"
    " FOR EACH ROW EXECUTE FUNCTION nexum_check_account_identity()"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # ADD VALUE commits with the migration; nothing below uses the new label.
        op.execute("ALTER TYPE account_kind ADD VALUE 'term_deposit'")
        op.execute(
            _IDENTITY_FUNCTION.format(numbered="'deposit', 'term_deposit'", message=_MESSAGE_AFTER)
        )
    else:
        rewrite_sqlite_accounts(
            (_KIND_TYPE_BEFORE, _KIND_TYPE_AFTER),
            (_KIND_CHECK_BEFORE, _KIND_CHECK_AFTER),
            (_IDENTITY_BEFORE, _IDENTITY_AFTER),
        )
    _create_table()


def downgrade() -> None:
    held = op.get_bind().scalar(
        sa.text("SELECT COUNT(*) FROM accounts WHERE kind = 'term_deposit'")
    )
    if held:
        raise RuntimeError(
            f"{held} term deposit accounts exist: their history cannot be removed, so 0010 "
            "cannot be undone on this database"
        )
    op.drop_index("ix_term_deposits_status_maturity_date", table_name="term_deposits")
    op.drop_index("ix_term_deposits_customer_id", table_name="term_deposits")
    op.drop_table("term_deposits")
    if op.get_bind().dialect.name == "postgresql":
        for name in _ENUM_TYPES:
            op.execute(f"DROP TYPE IF EXISTS {name}")
        op.execute(_IDENTITY_FUNCTION.format(numbered="'deposit'", message=_MESSAGE_BEFORE))
        # PostgreSQL cannot drop an enum label: the type is made again without it. The
        # trigger names the column, so it is set aside while the column changes type.
        op.execute("DROP TRIGGER trg_accounts_identity ON accounts")
        op.execute("ALTER TYPE account_kind RENAME TO account_kind_0010")
        op.execute("CREATE TYPE account_kind AS ENUM ('gl', 'deposit', 'loan')")
        op.execute(
            "ALTER TABLE accounts ALTER COLUMN kind TYPE account_kind"
            " USING kind::text::account_kind"
        )
        op.execute("DROP TYPE account_kind_0010")
        op.execute(_IDENTITY_TRIGGER)
    else:
        rewrite_sqlite_accounts(
            (_KIND_TYPE_AFTER, _KIND_TYPE_BEFORE),
            (_KIND_CHECK_AFTER, _KIND_CHECK_BEFORE),
            (_IDENTITY_AFTER, _IDENTITY_BEFORE),
        )


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, create_constraint=True)


def _create_table() -> None:
    op.create_table(
        "term_deposits",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("product_version", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "principal_minor",
            sa.BigInteger(),
            nullable=False,
            comment="at the current term's start",
        ),
        sa.Column("term_length", sa.Integer(), nullable=False),
        sa.Column("term_unit", _enum("term_unit", "days", "months"), nullable=False),
        sa.Column(
            "maturity_action", _enum("maturity_action", "payout", "rollover"), nullable=False
        ),
        sa.Column(
            "payout_account_id",
            sa.Uuid(),
            nullable=False,
            comment="where the money goes at maturity or early closure",
        ),
        sa.Column("start_date", sa.Date(), nullable=False, comment="the first term's start"),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("maturity_date", sa.Date(), nullable=False),
        sa.Column("term_number", sa.Integer(), nullable=False, comment="1 for the first term"),
        sa.Column(
            "status",
            _enum("term_deposit_status", "active", "paid_out", "closed_early"),
            nullable=False,
        ),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("principal_minor > 0", name=op.f("ck_term_deposits_principal_positive")),
        sa.CheckConstraint(
            "term_length > 0 AND term_number > 0", name=op.f("ck_term_deposits_term_positive")
        ),
        sa.CheckConstraint(
            "term_start < maturity_date", name=op.f("ck_term_deposits_term_ends_after_start")
        ),
        sa.CheckConstraint(
            "(status = 'active') = (closed_on IS NULL)",
            name=op.f("ck_term_deposits_closed_when_not_active"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_term_deposits_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_term_deposits_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["payout_account_id"],
            ["accounts.id"],
            name=op.f("fk_term_deposits_payout_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id", "product_version"],
            ["products.product_id", "products.version"],
            name=op.f("fk_term_deposits_product_id_products"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_term_deposits")),
    )
    op.create_index("ix_term_deposits_customer_id", "term_deposits", ["customer_id"])
    op.create_index(
        "ix_term_deposits_status_maturity_date", "term_deposits", ["status", "maturity_date"]
    )
