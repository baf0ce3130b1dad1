"""The batch posting function asks whether a key is already claimed with a fresh plan.

PostgreSQL only. ``nexum_post_entries`` (0013) joined a batch's keys to ``idempotency_keys``
in a statement whose plan PL/pgSQL keeps for the connection: made while the table was
small, a scan of the whole table, kept while it grows (measured: ``bench.http``'s single
transfers fell from 746 to 347/s within two rounds of batches, 2 595 scans had read 142
million rows, and a restarted server, with new connections, was fast again). The question
now goes to ``nexum_any_key_claimed`` (sql/0014_claimed_keys_found_by_index.sql), which
plans it at each call. The function is 0013's with that one condition replaced, so it is
derived from 0013's script here rather than copied. No table changes.

Revision ID: 0014_claimed_keys_found_by_index
Revises: 0013_set_based_batch_posting
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

from core_banking.migrations.sql import split_sql_script

revision: str = "0014_claimed_keys_found_by_index"
down_revision: str | None = "0013_set_based_batch_posting"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQL = Path(__file__).parent.parent / "sql"
_JOINED_IN_PLACE = """       OR EXISTS (SELECT 1
                    FROM unnest(p_idem_scope, p_idem_key) AS c(scope, key)
                    JOIN idempotency_keys k ON k.scope = c.scope AND k.key = c.key) THEN"""
_ASKED_AFRESH = """       OR nexum_any_key_claimed(p_idem_scope, p_idem_key) THEN"""


def _post_entries_of_0013() -> str:
    """nexum_post_entries as migration 0013 created it, to be created again."""
    script = (_SQL / "0013_set_based_batch_posting.sql").read_text(encoding="utf-8")
    created = next(
        s for s in split_sql_script(script) if "CREATE FUNCTION nexum_post_entries(" in s
    )
    if created.count(_JOINED_IN_PLACE) != 1:
        raise RuntimeError("0013's nexum_post_entries no longer has the condition 0014 replaces")
    return created.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        script = (_SQL / "0014_claimed_keys_found_by_index.sql").read_text(encoding="utf-8")
        for statement in split_sql_script(script):
            op.execute(statement)
        op.execute(_post_entries_of_0013().replace(_JOINED_IN_PLACE, _ASKED_AFRESH))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_post_entries_of_0013())
        op.execute("DROP FUNCTION nexum_any_key_claimed(text[], text[])")
