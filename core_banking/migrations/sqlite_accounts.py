"""Changing the rules of SQLite's accounts table, which SQLite cannot alter.

The account rules (which kinds exist, what identity each kind has) are CHECK constraints on
SQLite; a revision that changes them rebuilds the table from its own stored definition with
the texts changed, so whatever columns earlier revisions gave it are kept, and copies every
row back. Foreign keys are deferred to the commit meanwhile (0004 explains why they must be).
Used by the revisions that add account kinds (0007 loans, 0010 term deposits).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

_ACCOUNTS_COPY = "_accounts_being_rebuilt"


def rewrite_sqlite_accounts(*changes: tuple[str, str]) -> None:
    """Rebuild SQLite's accounts table from its stored definition with ``changes`` (old
    text, new text; each old text must occur exactly once) made to it, keeping its rows,
    indexes and triggers."""
    bind = op.get_bind()
    definition = bind.scalar(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'accounts'")
    )
    for old, new in changes:
        if str(definition).count(old) != 1:
            raise RuntimeError(f"the accounts table does not read as expected: {old!r}")
        definition = str(definition).replace(old, new)
    dependents = [
        row[0]
        for row in bind.execute(
            sa.text(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'accounts'"
                " AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
            )
        )
    ]
    op.execute("PRAGMA defer_foreign_keys = ON")  # until this transaction commits
    op.execute(f"CREATE TABLE {_ACCOUNTS_COPY} AS SELECT * FROM accounts")
    op.execute("DROP TABLE accounts")
    op.execute(definition)
    for statement in dependents:
        op.execute(statement)
    op.execute(f"INSERT INTO accounts SELECT * FROM {_ACCOUNTS_COPY}")
    op.execute(f"DROP TABLE {_ACCOUNTS_COPY}")
