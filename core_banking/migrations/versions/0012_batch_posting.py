"""Batch posting: ``nexum_post_entries``, several journal entries in one call.

PostgreSQL only: a function (sql/0012_batch_posting.sql) that posts the entries of an
atomic batch by calling ``nexum_post_entry`` for each, in order, in the caller's
transaction, so that the batch is one round trip (docs/adr/0010-batch-posting-in-one-call.md).
No table changes; SQLite posts a batch entry by entry from Python.

Revision ID: 0012_batch_posting
Revises: 0011_transaction_fees
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

from core_banking.migrations.sql import split_sql_script

revision: str = "0012_batch_posting"
down_revision: str | None = "0011_transaction_fees"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS_SQL = Path(__file__).parent.parent / "sql" / "0012_batch_posting.sql"
_FUNCTION = (
    "nexum_post_entries(uuid[], text[], date[], date[], text[], text[], text[], jsonb[],"
    " text[], uuid[], uuid[], bigint[], bigint[], text[], text[], boolean[], bigint[],"
    " bigint[], integer[], bigint[], bigint[], integer[], text[], bigint[], text[], text[],"
    " text[], bytea[], timestamptz[], text[], text[], integer[], integer[])"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in split_sql_script(_FUNCTIONS_SQL.read_text(encoding="utf-8")):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {_FUNCTION}")
