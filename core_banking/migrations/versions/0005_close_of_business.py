"""The close of business: the business calendar, and each run's progress by step.

``business_calendar`` is a single row (its id is 1) holding the last closed business date,
NULL until the first close; this revision writes that row. ``close_of_business_runs`` has
one row per business date (the key: a date runs once), with the lease of the process
leading it; ``close_of_business_steps`` one row per step a run has begun.

Revision ID: 0005_close_of_business
Revises: 0004_products
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from core_banking.storage.types import UTCDateTime

revision: str = "0005_close_of_business"
down_revision: str | None = "0004_products"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FINISHED_WHEN_DONE = "(status = 'done') = (finished_at IS NOT NULL)"


def upgrade() -> None:
    op.create_table(
        "business_calendar",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "last_closed_date",
            sa.Date(),
            nullable=True,
            comment="NULL until the first business date is closed",
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_business_calendar_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_calendar")),
    )
    # Written through the application's timestamp type, so SQLite compares like with like.
    calendar = sa.table(
        "business_calendar",
        sa.column("id", sa.SmallInteger),
        sa.column("last_closed_date", sa.Date),
        sa.column("updated_at", UTCDateTime),
    )
    op.bulk_insert(calendar, [{"id": 1, "last_closed_date": None, "updated_at": datetime.now(UTC)}])
    op.create_table(
        "close_of_business_runs",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "done",
                name="close_of_business_run_status",
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=200), nullable=False, comment="who started the run"),
        sa.Column(
            "lease_owner",
            sa.String(length=200),
            nullable=True,
            comment="the process leading the run; NULL: none",
        ),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            _FINISHED_WHEN_DONE, name=op.f("ck_close_of_business_runs_finished_when_done")
        ),
        sa.PrimaryKeyConstraint("business_date", name=op.f("pk_close_of_business_runs")),
    )
    op.create_table(
        "close_of_business_steps",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("step_name", sa.String(length=64), nullable=False),
        sa.Column(
            "position", sa.SmallInteger(), nullable=False, comment="the step's place in the run"
        ),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "done",
                name="close_of_business_step_status",
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("items_done", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "items_done >= 0", name=op.f("ck_close_of_business_steps_items_not_negative")
        ),
        sa.CheckConstraint(
            _FINISHED_WHEN_DONE, name=op.f("ck_close_of_business_steps_finished_when_done")
        ),
        sa.ForeignKeyConstraint(
            ["business_date"],
            ["close_of_business_runs.business_date"],
            name=op.f("fk_close_of_business_steps_business_date_close_of_business_runs"),
        ),
        sa.PrimaryKeyConstraint(
            "business_date", "step_name", name=op.f("pk_close_of_business_steps")
        ),
    )


def downgrade() -> None:
    op.drop_table("close_of_business_steps")
    op.drop_table("close_of_business_runs")
    op.drop_table("business_calendar")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TYPE IF EXISTS close_of_business_step_status")
        op.execute("DROP TYPE IF EXISTS close_of_business_run_status")
