"""The tables, as SQLAlchemy Core metadata. The Alembic migrations create them; a test
checks that a migrated database and this metadata agree.

Closed sets of values (kinds, types, statuses, sides) are PostgreSQL enum types: checked by
the type, where a CHECK constraint would be re-prepared for every statement that writes the
row. Money columns are BIGINT minor units (``*_minor``) beside a three-letter currency code.
Balances live on the account row and change in the same transaction as the journal lines,
so reading a balance never scans history. Every journal line records the account's balance
after it and its position in the account's history (``account_seq``), so the balance at any
moment is a single index lookup and `nexum verify` can check the chain line by line.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from core_banking.domain.accounts import AccountKind, AccountStatus, AccountType, ProductType, Side
from core_banking.domain.customers import CustomerStatus, KycStatus
from core_banking.domain.holds import HoldStatus
from core_banking.domain.lending.catalog import ProductKind
from core_banking.domain.lending.products import ProductStatus
from core_banking.domain.users import UserStatus
from core_banking.storage.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _enum(members: type[StrEnum], name: str) -> Enum:
    """A PostgreSQL enum type (checked by the type itself, at no per-statement cost); on
    SQLite, text with a CHECK constraint."""
    return Enum(
        members,
        name=name,
        values_callable=lambda enum: [member.value for member in enum],
        create_constraint=True,
        validate_strings=True,
    )


JSONDocument = JSON().with_variant(JSONB(), "postgresql")

# Personal data (names, contact details, date of birth, KYC documents) is stored through
# the field cipher: ciphertext when NEXUM_ENCRYPTION_ENABLED, hence Text. Email and phone are
# found by their blind index; names by the blind indexes of their words.
customers = Table(
    "customers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("given_name", Text, nullable=False),
    Column("family_name", Text, nullable=False),
    Column("email", Text),
    Column("phone", Text),
    Column("date_of_birth", Text),
    Column("email_index", String(32)),
    Column("phone_index", String(32)),
    Column("status", _enum(CustomerStatus, "customer_status"), nullable=False),
    Column("kyc_status", _enum(KycStatus, "kyc_status"), nullable=False, server_default="pending"),
    Column("kyc_tier", SmallInteger, nullable=False, server_default="0"),
    Column("kyc_documents", Text),
    Column("kyc_updated_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_customers_email_index", "email_index"),
    Index("ix_customers_phone_index", "phone_index"),
)

customer_name_tokens = Table(
    "customer_name_tokens",
    metadata,
    Column("token", String(32), nullable=False),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    PrimaryKeyConstraint("token", "customer_id"),
    Index("ix_customer_name_tokens_customer_id", "customer_id"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", _enum(AccountKind, "account_kind"), nullable=False),
    Column("account_type", _enum(AccountType, "account_type"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", _enum(AccountStatus, "account_status"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("code", String(16), comment="general-ledger code, for the bank's own accounts"),
    Column("number", String(34), unique=True, comment="customer-facing account number"),
    Column("customer_id", Uuid, ForeignKey("customers.id")),
    Column("product", _enum(ProductType, "product_type")),
    Column("posted_minor", BigInteger, nullable=False, server_default="0"),
    Column("held_minor", BigInteger, nullable=False, server_default="0"),
    Column("overdraft_limit_minor", BigInteger, nullable=False, server_default="0"),
    Column("min_balance_minor", BigInteger, comment="null: the bank's default applies"),
    Column("daily_limit_minor", BigInteger, comment="null: the bank's default applies"),
    Column("daily_debit_minor", BigInteger, nullable=False, server_default="0"),
    Column("daily_debit_date", Date),
    Column("line_seq", BigInteger, nullable=False, server_default="0"),
    Column("last_posted_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("product_id", Uuid, comment="the catalogue product it was opened from, if any"),
    Column("product_version", Integer, comment="the version of that product it keeps"),
    UniqueConstraint("code", "currency"),
    Index("ix_accounts_customer_id", "customer_id"),
    # Both or neither: PostgreSQL's MATCH FULL says so; SQLite parses MATCH but ignores it,
    # so there a CHECK does.
    ForeignKeyConstraint(
        ["product_id", "product_version"], ["products.product_id", "products.version"], match="FULL"
    ),
    CheckConstraint(
        "(product_id IS NULL) = (product_version IS NULL)", name="product_version_pair"
    ).ddl_if(dialect="sqlite"),
    CheckConstraint(
        "(kind = 'gl' AND code IS NOT NULL AND customer_id IS NULL AND number IS NULL)"
        " OR (kind = 'deposit' AND number IS NOT NULL AND customer_id IS NOT NULL"
        " AND code IS NULL)",
        name="kind_identity",
    ).ddl_if(dialect="sqlite"),  # PostgreSQL: trigger trg_accounts_identity, see below
    CheckConstraint("held_minor >= 0", name="held_not_negative"),
    CheckConstraint("overdraft_limit_minor >= 0", name="overdraft_not_negative"),
    CheckConstraint("daily_limit_minor IS NULL OR daily_limit_minor > 0", name="daily_limit"),
    # Balances change on every posting; free space on each page lets PostgreSQL update the
    # row in place (a HOT update) without touching any of the table's indexes. For the same
    # reason PostgreSQL checks an account's identity (kind_identity) with a trigger that fires
    # only when identity columns are written, not on every balance update.
    postgresql_with={"fillfactor": 70},
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("entry_type", String(32), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("value_date", Date, nullable=False),
    Column("posted_at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("channel", String(16)),
    Column("reference", String(140)),
    Column("metadata", JSONDocument, nullable=False),
    Column("request_id", String(200)),
    Column("reversal_of", Uuid, ForeignKey("journal_entries.id")),
    Index(
        "uq_journal_entries_reversal_of",
        "reversal_of",
        unique=True,
        postgresql_where=text("reversal_of IS NOT NULL"),
        sqlite_where=text("reversal_of IS NOT NULL"),
    ),
    Index("ix_journal_entries_posted_at", "posted_at", postgresql_using="brin"),
)

journal_lines = Table(
    "journal_lines",
    metadata,
    Column("entry_id", Uuid, ForeignKey("journal_entries.id"), nullable=False),
    Column("line_no", SmallInteger, nullable=False),
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False),
    Column("account_seq", BigInteger, nullable=False),
    Column("side", _enum(Side, "entry_side"), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("balance_after_minor", BigInteger, nullable=False),
    Column("posted_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("entry_id", "line_no"),
    UniqueConstraint("account_id", "account_seq"),
    Index("ix_journal_lines_account_id_posted_at", "account_id", "posted_at"),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
)

holds = Table(
    "holds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", _enum(HoldStatus, "hold_status"), nullable=False),
    Column("expires_at", UTCDateTime),
    Column("reference", String(140)),
    Column("captured_minor", BigInteger, nullable=False, server_default="0"),
    Column("capture_entry_id", Uuid, ForeignKey("journal_entries.id")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_holds_account_id_status", "account_id", "status"),
    Index("ix_holds_status_expires_at", "status", "expires_at"),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint(
        "captured_minor >= 0 AND captured_minor <= amount_minor", name="captured_within"
    ),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(200), nullable=False),
    Column("key", String(255), nullable=False),
    Column("operation", String(64), nullable=False),
    Column("fingerprint", LargeBinary(32), nullable=False),
    Column("entity_id", Uuid, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("scope", "key"),
)

audit_chain_heads = Table(
    "audit_chain_heads",
    metadata,
    Column("shard", SmallInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("head_hash", LargeBinary(32), nullable=False),
    postgresql_with={"fillfactor": 50},
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("shard", SmallInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity_type", String(64), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("request_id", String(200)),
    Column("payload", Text, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("shard", "seq"),
    Index("ix_audit_events_entity_type_entity_id", "entity_type", "entity_id"),
    Index("ix_audit_events_occurred_at", "occurred_at", postgresql_using="brin"),
)


roles = Table(
    "roles",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("description", String(500), nullable=False),
    Column("permissions", JSON, nullable=False),
    Column("amount_limit", String(32), comment="major units, any currency; null: no limit"),
    Column("builtin", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("full_name", String(200), nullable=False),
    Column("email", String(320)),
    Column("password_hash", String(200), nullable=False),
    Column("status", _enum(UserStatus, "user_status"), nullable=False),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime),
)

user_roles = Table(
    "user_roles",
    metadata,
    Column("user_id", Uuid, ForeignKey("users.id"), nullable=False),
    Column("role_name", String(32), ForeignKey("roles.name"), nullable=False),
    PrimaryKeyConstraint("user_id", "role_name"),
    Index("ix_user_roles_role_name", "role_name"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("client_address", String(64)),
    Index("ix_sessions_user_id", "user_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("secret_digest", LargeBinary(32), nullable=False),
    Column("permissions", JSON, nullable=False),
    Column("amount_limit", String(32)),
    Column("created_by", Uuid, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
)

# The HTTP layer's record of money-moving requests by Idempotency-Key: the response of the
# first request, replayed byte for byte to its retries.
http_idempotency = Table(
    "http_idempotency",
    metadata,
    Column("principal", String(200), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", LargeBinary(32), nullable=False),
    Column("completed", Boolean, nullable=False),
    Column("status_code", Integer),
    Column("response_body", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    PrimaryKeyConstraint("principal", "key"),
    Index("ix_http_idempotency_created_at", "created_at"),
)

# The transactional outbox: events waiting for the relay to publish them (to Kafka). A row
# is written in the same transaction as the change it announces and deleted once the broker
# has it. It points at the record it announces, a journal line of a customer's account or an
# audit event, rather than copying it: the relay renders the message from that record.
# PostgreSQL writes the rows with statement triggers (trg_*_outbox, sql/0003_event_outbox.sql)
# when the connection sets nexum.outbox = 'on'; SQLite from Python (storage/outbox.py).
outbox_events = Table(
    "outbox_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", Uuid, nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("account_id", Uuid),
    Column("account_seq", BigInteger),
    Column("audit_shard", SmallInteger),
    Column("audit_seq", BigInteger),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "(kind = 'line' AND account_id IS NOT NULL AND account_seq IS NOT NULL"
        " AND audit_shard IS NULL AND audit_seq IS NULL)"
        " OR (kind = 'audit' AND audit_shard IS NOT NULL AND audit_seq IS NOT NULL"
        " AND account_id IS NULL AND account_seq IS NULL)",
        name="points_at_one_record",
    ),
)

# Who relays the outbox: one relay at a time holds the lease (and renews it), so events of
# one account leave in the order they were written even with several API workers running.
outbox_relay_lease = Table(
    "outbox_relay_lease",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("owner", String(200)),
    Column("expires_at", UTCDateTime, nullable=False),
)

# The product catalogue: every version of every product, each a row that never changes but
# for its status. The product's terms are one JSON document (money in integer minor units,
# rates as decimal strings, never floats: storage/product_documents.py). At most one version
# of a product is active (the partial unique index); accounts point at the version they were
# opened under. The primary key serves the list's order (newest product first, then newest
# version), the partial index the active versions; a catalogue is hundreds of rows, not
# millions, so the other filters need no index of their own.
products = Table(
    "products",
    metadata,
    Column("product_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", _enum(ProductKind, "product_kind"), nullable=False),
    Column("status", _enum(ProductStatus, "product_status"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("currency", String(3), nullable=False),
    Column(
        "definition",
        JSONDocument,
        nullable=False,
        comment="the product's terms: money in minor units, rates as decimal strings",
    ),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("product_id", "version"),
    CheckConstraint("version >= 1", name="version_positive"),
    Index(
        "uq_products_product_id_active",
        "product_id",
        unique=True,
        postgresql_where=text("status = 'active'"),
        sqlite_where=text("status = 'active'"),
    ),
)
