"""The ledger core: customers, accounts, journal, holds, idempotency keys, audit trail.

On PostgreSQL this also creates the posting and audit functions, the deferred trigger that
refuses an unbalanced entry at commit, and the append-only guards (sql/0001_*.sql). SQLite
gets the append-only guards as triggers; its balance check runs inside each transaction.

Revision ID: 0001_ledger_core
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from core_banking.domain.audit import AUDIT_SHARDS, genesis_hash
from core_banking.migrations.sql import split_sql_script

revision: str = "0001_ledger_core"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS_SQL = Path(__file__).parent.parent / "sql" / "0001_ledger_functions.sql"
_APPEND_ONLY_TABLES = ("journal_entries", "journal_lines", "audit_events")
_ENUM_TYPES = (
    "customer_status",
    "account_kind",
    "account_type",
    "account_status",
    "product_type",
    "entry_side",
    "hold_status",
)


def upgrade() -> None:
    _create_tables()
    audit_chain_heads = sa.table(
        "audit_chain_heads",
        sa.column("shard", sa.SmallInteger),
        sa.column("seq", sa.BigInteger),
        sa.column("head_hash", sa.LargeBinary),
    )
    op.bulk_insert(
        audit_chain_heads,
        [
            {"shard": shard, "seq": 0, "head_hash": genesis_hash(shard)}
            for shard in range(AUDIT_SHARDS)
        ],
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in split_sql_script(_FUNCTIONS_SQL.read_text(encoding="utf-8")):
            op.execute(statement)
    else:
        for table in _APPEND_ONLY_TABLES:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER trg_{table}_no_{event.lower()} BEFORE {event} ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'nexum:append_only'); END"
                )


def _sqlite_only(*constraints: sa.Constraint) -> tuple[sa.Constraint, ...]:
    """Constraints PostgreSQL enforces otherwise (by a trigger; see the SQL script)."""
    return constraints if op.get_bind().dialect.name == "sqlite" else ()


def _create_tables() -> None:
    op.create_table(
        "audit_chain_heads",
        sa.Column("shard", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("shard", name=op.f("pk_audit_chain_heads")),
        postgresql_with={"fillfactor": 50},
    )
    op.create_table(
        "audit_events",
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("shard", "seq", name=op.f("pk_audit_events")),
    )
    op.create_index(
        "ix_audit_events_entity_type_entity_id",
        "audit_events",
        ["entity_type", "entity_id"],
        unique=False,
    )
    op.create_index(
        "ix_audit_events_occurred_at",
        "audit_events",
        ["occurred_at"],
        unique=False,
        postgresql_using="brin",
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("given_name", sa.String(length=200), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active", "suspended", "closed", name="customer_status", create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(length=32), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entry_type", sa.String(length=32), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("reference", sa.String(length=140), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.Column("reversal_of", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reversal_of"],
            ["journal_entries.id"],
            name=op.f("fk_journal_entries_reversal_of_journal_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
    )
    op.create_index(
        "ix_journal_entries_posted_at",
        "journal_entries",
        ["posted_at"],
        unique=False,
        postgresql_using="brin",
    )
    op.create_index(
        "uq_journal_entries_reversal_of",
        "journal_entries",
        ["reversal_of"],
        unique=True,
        postgresql_where=sa.text("reversal_of IS NOT NULL"),
        sqlite_where=sa.text("reversal_of IS NOT NULL"),
    )
    op.create_table(
        "accounts",
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
        *_sqlite_only(
            sa.CheckConstraint(
                "(kind = 'gl' AND code IS NOT NULL AND customer_id IS NULL AND number IS NULL)"
                " OR (kind = 'deposit' AND number IS NOT NULL AND customer_id IS NOT NULL"
                " AND code IS NULL)",
                name=op.f("ck_accounts_kind_identity"),
            )
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
        postgresql_with={"fillfactor": 70},
    )
    op.create_index("ix_accounts_customer_id", "accounts", ["customer_id"], unique=False)
    op.create_table(
        "holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "captured",
                "released",
                "expired",
                name="hold_status",
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reference", sa.String(length=140), nullable=True),
        sa.Column("captured_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("capture_entry_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_holds_amount_positive")),
        sa.CheckConstraint(
            "captured_minor >= 0 AND captured_minor <= amount_minor",
            name=op.f("ck_holds_captured_within"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_holds_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["capture_entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_holds_capture_entry_id_journal_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    op.create_index("ix_holds_account_id_status", "holds", ["account_id", "status"], unique=False)
    op.create_index("ix_holds_status_expires_at", "holds", ["status", "expires_at"], unique=False)
    op.create_table(
        "journal_lines",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.SmallInteger(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("account_seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "side", sa.Enum("D", "C", name="entry_side", create_constraint=True), nullable=False
        ),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance_after_minor", sa.BigInteger(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_journal_lines_amount_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_journal_lines_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_journal_lines_entry_id_journal_entries"),
        ),
        sa.PrimaryKeyConstraint("entry_id", "line_no", name=op.f("pk_journal_lines")),
        sa.UniqueConstraint(
            "account_id", "account_seq", name=op.f("uq_journal_lines_account_id_account_seq")
        ),
    )
    op.create_index(
        "ix_journal_lines_account_id_posted_at",
        "journal_lines",
        ["account_id", "posted_at"],
        unique=False,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_append_only ON {table}")
        op.execute("DROP TRIGGER IF EXISTS trg_journal_lines_balanced ON journal_lines")
        for function in (
            "nexum_post_entry",
            "nexum_audit_append",
            "nexum_audit_shards",
            "nexum_check_entry_balanced",
            "nexum_refuse_change",
            "nexum_check_account_identity",
            "nexum_refuse",
        ):
            op.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")

    op.drop_index("ix_journal_lines_account_id_posted_at", table_name="journal_lines")
    op.drop_table("journal_lines")
    op.drop_index("ix_holds_status_expires_at", table_name="holds")
    op.drop_index("ix_holds_account_id_status", table_name="holds")
    op.drop_table("holds")
    op.drop_index("ix_accounts_customer_id", table_name="accounts")
    op.drop_table("accounts")
    op.drop_index(
        "uq_journal_entries_reversal_of",
        table_name="journal_entries",
        postgresql_where=sa.text("reversal_of IS NOT NULL"),
        sqlite_where=sa.text("reversal_of IS NOT NULL"),
    )
    op.drop_index(
        "ix_journal_entries_posted_at", table_name="journal_entries", postgresql_using="brin"
    )
    op.drop_table("journal_entries")
    op.drop_table("idempotency_keys")
    op.drop_table("customers")
    op.drop_index("ix_audit_events_occurred_at", table_name="audit_events", postgresql_using="brin")
    op.drop_index("ix_audit_events_entity_type_entity_id", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("audit_chain_heads")
    if op.get_bind().dialect.name == "postgresql":
        for enum_type in _ENUM_TYPES:
            op.execute(f"DROP TYPE IF EXISTS {enum_type}")
