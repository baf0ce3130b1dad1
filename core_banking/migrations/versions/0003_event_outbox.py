"""The transactional outbox: events waiting to be published, and the relay's lease.

On PostgreSQL statement triggers write the outbox rows (sql/0003_event_outbox.sql); on
SQLite the storage layer writes them from Python. Either way a row is written in the
transaction of the change it announces.

Revision ID: 0003_event_outbox
Revises: 0002_security_and_pii
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from core_banking.migrations.sql import split_sql_script
from core_banking.storage.types import UTCDateTime

revision: str = "0003_event_outbox"
down_revision: str | None = "0002_security_and_pii"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRIGGERS_SQL = Path(__file__).parent.parent / "sql" / "0003_event_outbox.sql"
RELAY_LEASE = "kafka"


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("account_seq", sa.BigInteger(), nullable=True),
        sa.Column("audit_shard", sa.SmallInteger(), nullable=True),
        sa.Column("audit_seq", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'line' AND account_id IS NOT NULL AND account_seq IS NOT NULL"
            " AND audit_shard IS NULL AND audit_seq IS NULL)"
            " OR (kind = 'audit' AND audit_shard IS NOT NULL AND audit_seq IS NOT NULL"
            " AND account_id IS NULL AND account_seq IS NULL)",
            name=op.f("ck_outbox_events_points_at_one_record"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_events_id")),
    )
    op.create_table(
        "outbox_relay_lease",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_outbox_relay_lease")),
    )
    # Written through the application's timestamp type, so SQLite compares like with like.
    lease = sa.table(
        "outbox_relay_lease",
        sa.column("name", sa.String),
        sa.column("owner", sa.String),
        sa.column("expires_at", UTCDateTime),
    )
    op.bulk_insert(
        lease,
        [{"name": RELAY_LEASE, "owner": None, "expires_at": datetime(2000, 1, 1, tzinfo=UTC)}],
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in split_sql_script(_TRIGGERS_SQL.read_text(encoding="utf-8")):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS trg_journal_lines_outbox ON journal_lines")
        op.execute("DROP TRIGGER IF EXISTS trg_audit_events_outbox ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS nexum_outbox_lines()")
        op.execute("DROP FUNCTION IF EXISTS nexum_outbox_audit()")
    op.drop_table("outbox_relay_lease")
    op.drop_table("outbox_events")
