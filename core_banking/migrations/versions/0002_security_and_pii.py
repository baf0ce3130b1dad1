"""Security and personal data: users, roles, sessions, API keys, HTTP idempotency records;
customers' encrypted personal data with blind indexes, name tokens and KYC.

The built-in roles are reference data, kept in step with the code by MigrationManager after
every upgrade (core_banking.domain.security.DEFAULT_ROLES), like the chart of accounts.

Revision ID: 0002_security_and_pii
Revises: 0001_ledger_core
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_security_and_pii"
down_revision: str | None = "0001_ledger_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KYC_STATUS = sa.Enum(
    "pending", "verified", "rejected", "expired", name="kyc_status", create_constraint=True
)


def upgrade() -> None:
    op.create_table(
        "http_idempotency",
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(length=32), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("principal", "key", name=op.f("pk_http_idempotency")),
    )
    with op.batch_alter_table("http_idempotency", schema=None) as batch_op:
        batch_op.create_index("ix_http_idempotency_created_at", ["created_at"], unique=False)

    op.create_table(
        "roles",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column(
            "amount_limit",
            sa.String(length=32),
            nullable=True,
            comment="major units, any currency; null: no limit",
        ),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_roles")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "disabled", name="user_status", create_constraint=True),
            nullable=False,
        ),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("amount_limit", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_api_keys_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "customer_name_tokens",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_name_tokens_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("token", "customer_id", name=op.f("pk_customer_name_tokens")),
    )
    with op.batch_alter_table("customer_name_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_customer_name_tokens_customer_id", ["customer_id"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index("ix_sessions_user_id", ["user_id"], unique=False)

    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role_name", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_name"], ["roles.name"], name=op.f("fk_user_roles_role_name_roles")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "role_name", name=op.f("pk_user_roles")),
    )
    with op.batch_alter_table("user_roles", schema=None) as batch_op:
        batch_op.create_index("ix_user_roles_role_name", ["role_name"], unique=False)

    _KYC_STATUS.create(op.get_bind(), checkfirst=True)
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("date_of_birth", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("email_index", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("phone_index", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("kyc_status", _KYC_STATUS, server_default="pending", nullable=False)
        )
        batch_op.add_column(
            sa.Column("kyc_tier", sa.SmallInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("kyc_documents", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("kyc_updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column(
            "given_name",
            existing_type=sa.VARCHAR(length=200),
            type_=sa.Text(),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "family_name",
            existing_type=sa.VARCHAR(length=200),
            type_=sa.Text(),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "email", existing_type=sa.VARCHAR(length=320), type_=sa.Text(), existing_nullable=True
        )
        batch_op.alter_column(
            "phone", existing_type=sa.VARCHAR(length=32), type_=sa.Text(), existing_nullable=True
        )
        batch_op.create_index("ix_customers_email_index", ["email_index"], unique=False)
        batch_op.create_index("ix_customers_phone_index", ["phone_index"], unique=False)


def downgrade() -> None:

    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("customers", schema=None) as batch_op:
        if sqlite:  # the CHECK that stands in for the enum type there
            batch_op.drop_constraint(op.f("ck_customers_kyc_status"), type_="check")
        batch_op.drop_index("ix_customers_phone_index")
        batch_op.drop_index("ix_customers_email_index")
        batch_op.alter_column(
            "phone", existing_type=sa.Text(), type_=sa.VARCHAR(length=32), existing_nullable=True
        )
        batch_op.alter_column(
            "email", existing_type=sa.Text(), type_=sa.VARCHAR(length=320), existing_nullable=True
        )
        batch_op.alter_column(
            "family_name",
            existing_type=sa.Text(),
            type_=sa.VARCHAR(length=200),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "given_name",
            existing_type=sa.Text(),
            type_=sa.VARCHAR(length=200),
            existing_nullable=False,
        )
        batch_op.drop_column("kyc_updated_at")
        batch_op.drop_column("kyc_documents")
        batch_op.drop_column("kyc_tier")
        batch_op.drop_column("kyc_status")
        batch_op.drop_column("phone_index")
        batch_op.drop_column("email_index")
        batch_op.drop_column("date_of_birth")

    with op.batch_alter_table("user_roles", schema=None) as batch_op:
        batch_op.drop_index("ix_user_roles_role_name")

    op.drop_table("user_roles")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_user_id")

    op.drop_table("sessions")
    with op.batch_alter_table("customer_name_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_name_tokens_customer_id")

    op.drop_table("customer_name_tokens")
    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_table("roles")
    with op.batch_alter_table("http_idempotency", schema=None) as batch_op:
        batch_op.drop_index("ix_http_idempotency_created_at")

    op.drop_table("http_idempotency")
    if not sqlite:
        op.execute("DROP TYPE IF EXISTS kyc_status")
        op.execute("DROP TYPE IF EXISTS user_status")
