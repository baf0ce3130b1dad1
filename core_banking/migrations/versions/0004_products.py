"""The product catalogue: every version of every product, and the product version each
account was opened under.

``products`` is keyed by (product_id, version); a partial unique index lets at most one
version of a product be active. ``accounts`` gains ``product_id`` and ``product_version``,
both or neither, pointing at a product version: PostgreSQL adds the columns and a MATCH FULL
foreign key in place. SQLite cannot add a foreign key to an existing table, so the table is
rebuilt: copied aside, dropped, created anew and filled again. Journal lines and holds point
at accounts, so foreign keys are deferred to the commit meanwhile (SQLite counts the rows the
drop orphans and the refill adopts again); renaming a new table into place, as Alembic's
batch mode does, would leave that count standing and fail the commit.

Revision ID: 0004_products
Revises: 0003_event_outbox
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import SchemaItem

revision: str = "0004_products"
down_revision: str | None = "0003_event_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = "status = 'active'"
_FK_PRODUCT = "fk_accounts_product_id_products"
_ACCOUNTS_COPY = "_accounts_before_0004"


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "deposit", "term_loan", "credit_line", name="product_kind", create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("draft", "active", "retired", name="product_status", create_constraint=True),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="the product's terms: money in minor units, rates as decimal strings",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_products_version_positive")),
        sa.PrimaryKeyConstraint("product_id", "version", name=op.f("pk_products")),
    )
    op.create_index(
        "uq_products_product_id_active",
        "products",
        ["product_id"],
        unique=True,
        postgresql_where=sa.text(_ACTIVE),
        sqlite_where=sa.text(_ACTIVE),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("accounts", _product_id_column())
        op.add_column("accounts", _product_version_column())
        op.create_foreign_key(
            _FK_PRODUCT,
            "accounts",
            "products",
            ["product_id", "product_version"],
            ["product_id", "version"],
            match="FULL",
        )
    else:
        _rebuild_sqlite_accounts(with_product=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(_FK_PRODUCT, "accounts", type_="foreignkey")
        op.drop_column("accounts", "product_version")
        op.drop_column("accounts", "product_id")
    else:
        _rebuild_sqlite_accounts(with_product=False)
    op.drop_index("uq_products_product_id_active", table_name="products")
    op.drop_table("products")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TYPE IF EXISTS product_status")
        op.execute("DROP TYPE IF EXISTS product_kind")


def _product_id_column() -> sa.Column[object]:
    return sa.Column(
        "product_id",
        sa.Uuid(),
        nullable=True,
        comment="the catalogue product it was opened from, if any",
    )


def _product_version_column() -> sa.Column[object]:
    return sa.Column(
        "product_version",
        sa.Integer(),
        nullable=True,
        comment="the version of that product it keeps",
    )


def _rebuild_sqlite_accounts(*, with_product: bool) -> None:
    """Give SQLite's accounts table its new shape, keeping every row (see the module's
    docstring for why it is done by hand)."""
    copied = ", ".join(_ACCOUNT_COLUMNS)
    op.execute("PRAGMA defer_foreign_keys = ON")  # until this transaction commits
    op.execute(f"CREATE TABLE {_ACCOUNTS_COPY} AS SELECT {copied} FROM accounts")
    op.drop_index("ix_accounts_customer_id", table_name="accounts")
    op.drop_table("accounts")
    op.create_table("accounts", *_accounts_sqlite(with_product=with_product))
    op.create_index("ix_accounts_customer_id", "accounts", ["customer_id"], unique=False)
    op.execute(f"INSERT INTO accounts ({copied}) SELECT {copied} FROM {_ACCOUNTS_COPY}")
    op.execute(f"DROP TABLE {_ACCOUNTS_COPY}")


# The accounts table as 0001_ledger_core made it on SQLite (the kind_identity CHECK is
# SQLite's; PostgreSQL has a trigger instead), plus this revision's columns when asked.
_ACCOUNT_COLUMNS = (
    "id",
    "kind",
    "account_type",
    "currency",
    "status",
    "name",
    "code",
    "number",
    "customer_id",
    "product",
    "posted_minor",
    "held_minor",
    "overdraft_limit_minor",
    "min_balance_minor",
    "daily_limit_minor",
    "daily_debit_minor",
    "daily_debit_date",
    "line_seq",
    "last_posted_at",
    "created_at",
    "updated_at",
)


def _accounts_sqlite(*, with_product: bool) -> list[SchemaItem]:
    items: list[SchemaItem] = [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("gl", "deposit", name="account_kind", create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "account_type",
            sa.Enum(
                "asset",
                "liability",
                "equity",
                "income",
                "expense",
                name="account_type",
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "dormant",
                "frozen",
                "closed",
                name="account_status",
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "code",
            sa.String(length=16),
            nullable=True,
            comment="general-ledger code, for the bank's own accounts",
        ),
        sa.Column(
            "number", sa.String(length=34), nullable=True, comment="customer-facing account number"
        ),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column(
            "product",
            sa.Enum("savings", "checking", name="product_type", create_constraint=True),
            nullable=True,
        ),
        sa.Column("posted_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("held_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("overdraft_limit_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "min_balance_minor",
            sa.BigInteger(),
            nullable=True,
            comment="null: the bank's default applies",
        ),
        sa.Column(
            "daily_limit_minor",
            sa.BigInteger(),
            nullable=True,
            comment="null: the bank's default applies",
        ),
        sa.Column("daily_debit_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("daily_debit_date", sa.Date(), nullable=True),
        sa.Column("line_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]
    if with_product:
        items += [_product_id_column(), _product_version_column()]
    items += [
        sa.CheckConstraint(
            "(kind = 'gl' AND code IS NOT NULL AND customer_id IS NULL AND number IS NULL)"
            " OR (kind = 'deposit' AND number IS NOT NULL AND customer_id IS NOT NULL"
            " AND code IS NULL)",
            name=op.f("ck_accounts_kind_identity"),
        ),
        sa.CheckConstraint(
            "daily_limit_minor IS NULL OR daily_limit_minor > 0",
            name=op.f("ck_accounts_daily_limit"),
        ),
        sa.CheckConstraint("held_minor >= 0", name=op.f("ck_accounts_held_not_negative")),
        sa.CheckConstraint(
            "overdraft_limit_minor >= 0", name=op.f("ck_accounts_overdraft_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_accounts_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("code", "currency", name=op.f("uq_accounts_code_currency")),
        sa.UniqueConstraint("number", name=op.f("uq_accounts_number")),
    ]
    if with_product:
        items += [
            sa.CheckConstraint(
                "(product_id IS NULL) = (product_version IS NULL)",
                name=op.f("ck_accounts_product_version_pair"),
            ),
            sa.ForeignKeyConstraint(
                ["product_id", "product_version"],
                ["products.product_id", "products.version"],
                name=op.f(_FK_PRODUCT),
            ),
        ]
    return items
