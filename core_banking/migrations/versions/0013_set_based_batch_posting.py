"""Set-based batch posting: ``nexum_post_entries`` posts a batch with one statement a table.

PostgreSQL only (sql/0013_set_based_batch_posting.sql): the batch function of 0012, which
called ``nexum_post_entry`` once per entry, is kept as ``nexum_post_entries_one_by_one``
for the batches running sums cannot describe (a reversal, several business dates, a
replayed key); the new ``nexum_post_entries`` takes the same arguments and gives the same
result (docs/adr/0012-set-based-batch-posting.md). The audit chain's shard choice becomes
its own function, shared by one record and a batch. No table changes.

Revision ID: 0013_set_based_batch_posting
Revises: 0012_batch_posting
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

from core_banking.migrations.sql import split_sql_script

revision: str = "0013_set_based_batch_posting"
down_revision: str | None = "0012_batch_posting"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS_SQL = Path(__file__).parent.parent / "sql" / "0013_set_based_batch_posting.sql"
_ARGUMENTS = (
    "(uuid[], text[], date[], date[], text[], text[], text[], jsonb[],"
    " text[], uuid[], uuid[], bigint[], bigint[], text[], text[], boolean[], bigint[],"
    " bigint[], integer[], bigint[], bigint[], integer[], text[], bigint[], text[], text[],"
    " text[], bytea[], timestamptz[], text[], text[], integer[], integer[])"
)
_LEDGER_FUNCTIONS_0001 = Path(__file__).parent.parent / "sql" / "0001_ledger_functions.sql"


def _audit_append_of_0001() -> str:
    """nexum_audit_append as migration 0001 created it (the shard choice inline)."""
    statements = split_sql_script(_LEDGER_FUNCTIONS_0001.read_text(encoding="utf-8"))
    created = next(s for s in statements if "FUNCTION nexum_audit_append(" in s)
    return created.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in split_sql_script(_FUNCTIONS_SQL.read_text(encoding="utf-8")):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION nexum_post_entries{_ARGUMENTS}")
        op.execute(
            f"ALTER FUNCTION nexum_post_entries_one_by_one{_ARGUMENTS} RENAME TO nexum_post_entries"
        )
        op.execute(_audit_append_of_0001())
        op.execute("DROP FUNCTION nexum_audit_take_shard()")
