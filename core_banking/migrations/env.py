"""Alembic's environment for Nexum: migrations always run on a connection that
MigrationManager opened and handed over in ``config.attributes["connection"]``.

Migrations name their constraints with the schema's naming convention, so a constraint a
migration creates has the name the metadata expects."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from core_banking.storage.schema import NAMING_CONVENTION

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through core_banking.migrations.MigrationManager")

context.configure(
    connection=connection,
    target_metadata=MetaData(naming_convention=NAMING_CONVENTION),
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
