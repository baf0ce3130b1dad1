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
from core_banking.domain.close_of_business import RunStatus
from core_banking.domain.customers import CustomerStatus, KycStatus
from core_banking.domain.holds import HoldStatus
from core_banking.domain.lending.catalog import ProductKind
from core_banking.domain.lending.credit_line_accounts import (
    CreditLineStatus,
    MovementKind,
    StatementStatus,
)
from core_banking.domain.lending.dates import RepaymentFrequency
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.deposit_products import MaturityAction, TermUnit
from core_banking.domain.lending.loan_products import AmortizationMethod
from core_banking.domain.lending.loan_status import LoanStatus
from core_banking.domain.lending.loans import InstallmentStatus
from core_banking.domain.lending.products import ProductStatus
from core_banking.domain.lending.term_deposits import TermDepositStatus
from core_banking.domain.users import UserStatus
from core_banking.storage.types import EXACT_DECIMAL, UTCDateTime

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
        " OR (kind IN ('deposit', 'term_deposit') AND number IS NOT NULL"
        " AND customer_id IS NOT NULL AND code IS NULL)"
        " OR (kind = 'loan' AND customer_id IS NOT NULL AND code IS NULL AND number IS NULL)",
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
    Index("ix_journal_entries_business_date", "business_date"),
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

# The close of business (domain/close_of_business.py). ``business_calendar`` is one row: the
# last business date closed (NULL before the first close). Each run of a date is one row of
# ``close_of_business_runs`` (the date is its key, so a date runs at most once), led by one
# process at a time through a lease that it renews while it works and that expires if the
# process dies; each step a run has begun is a row of ``close_of_business_steps``.
business_calendar = Table(
    "business_calendar",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("last_closed_date", Date, comment="NULL until the first business date is closed"),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

close_of_business_runs = Table(
    "close_of_business_runs",
    metadata,
    Column("business_date", Date, primary_key=True),
    Column("status", _enum(RunStatus, "close_of_business_run_status"), nullable=False),
    Column("actor", String(200), nullable=False, comment="who started the run"),
    Column("lease_owner", String(200), comment="the process leading the run; NULL: none"),
    Column("lease_expires_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    CheckConstraint("(status = 'done') = (finished_at IS NOT NULL)", name="finished_when_done"),
)

close_of_business_steps = Table(
    "close_of_business_steps",
    metadata,
    Column(
        "business_date",
        Date,
        ForeignKey("close_of_business_runs.business_date"),
        nullable=False,
    ),
    Column("step_name", String(64), nullable=False),
    Column("position", SmallInteger, nullable=False, comment="the step's place in the run"),
    Column("status", _enum(RunStatus, "close_of_business_step_status"), nullable=False),
    Column("items_done", BigInteger, nullable=False, server_default="0"),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    PrimaryKeyConstraint("business_date", "step_name"),
    CheckConstraint("items_done >= 0", name="items_not_negative"),
    CheckConstraint("(status = 'done') = (finished_at IS NOT NULL)", name="finished_when_done"),
)

# Deposit interest (docs/interest.md). ``deposit_interest_terms`` and ``deposit_interest_tiers``
# are the interest terms of each deposit product version as rows that SQL can join, derived
# from ``products.definition`` by the close-of-business steps (a version's terms never
# change, so a version is derived once). A fixed rate is one tier from zero. Accruals and the
# per-account state keep exact decimals in major units: NUMERIC on PostgreSQL, decimal text
# on SQLite, never a float.
deposit_interest_terms = Table(
    "deposit_interest_terms",
    metadata,
    Column("product_id", Uuid, nullable=False),
    Column("product_version", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("minor_units", SmallInteger, nullable=False, comment="the currency's decimals"),
    Column("rate_kind", String(8), nullable=False, comment="fixed, banded or whole"),
    Column("day_count", String(16), nullable=False),
    Column("compounding", String(16), nullable=False),
    Column("posting_frequency", String(16), nullable=False),
    PrimaryKeyConstraint("product_id", "product_version"),
    ForeignKeyConstraint(
        ["product_id", "product_version"], ["products.product_id", "products.version"]
    ),
    CheckConstraint("rate_kind IN ('fixed', 'banded', 'whole')", name="rate_kind"),
)

deposit_interest_tiers = Table(
    "deposit_interest_tiers",
    metadata,
    Column("product_id", Uuid, nullable=False),
    Column("product_version", Integer, nullable=False),
    Column("tier_no", SmallInteger, nullable=False),
    Column("from_minor", BigInteger, nullable=False),
    Column("upto_minor", BigInteger, comment="the next tier's threshold; NULL for the last"),
    Column("annual_rate", EXACT_DECIMAL, nullable=False),
    Column(
        "banded_below",
        EXACT_DECIMAL,
        nullable=False,
        comment="a year's banded interest on from_minor, in minor units",
    ),
    PrimaryKeyConstraint("product_id", "product_version", "tier_no"),
    ForeignKeyConstraint(
        ["product_id", "product_version"],
        ["deposit_interest_terms.product_id", "deposit_interest_terms.product_version"],
    ),
)

deposit_interest_accruals = Table(
    "deposit_interest_accruals",
    metadata,
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("closing_balance_minor", BigInteger, nullable=False),
    Column("annual_rate", EXACT_DECIMAL, nullable=False, comment="the tier the base reached"),
    Column("accrued", EXACT_DECIMAL, nullable=False, comment="major units"),
    PrimaryKeyConstraint("account_id", "business_date"),
)

deposit_interest_state = Table(
    "deposit_interest_state",
    metadata,
    Column("account_id", Uuid, ForeignKey("accounts.id"), primary_key=True),
    Column("accrued", EXACT_DECIMAL, nullable=False, comment="accrued since the last posting"),
    Column("residue", EXACT_DECIMAL, nullable=False, comment="below one minor unit, carried"),
    Column("credited_minor", BigInteger, nullable=False, comment="interest posted, in total"),
    Column("last_accrual_date", Date),
    Column("last_posting_date", Date),
)

# Deposit fees (docs/close-of-business.md). ``deposit_fee_terms`` is the monthly maintenance
# fee and the per-transaction fee of each deposit product version, derived from
# ``products.definition`` by the close-of-business steps as ``deposit_interest_terms`` is.
# ``deposit_maintenance_fees`` holds one row per account and month (its first day), and
# ``deposit_transaction_fees`` one per account and business date with debits: charged (the
# entry) or waived (the reason); each key makes its fee once per account and period.
deposit_fee_terms = Table(
    "deposit_fee_terms",
    metadata,
    Column("product_id", Uuid, nullable=False),
    Column("product_version", Integer, nullable=False),
    Column("monthly_maintenance_fee_minor", BigInteger, nullable=False),
    Column("transaction_fee_minor", BigInteger, nullable=False),
    PrimaryKeyConstraint("product_id", "product_version"),
    ForeignKeyConstraint(
        ["product_id", "product_version"], ["products.product_id", "products.version"]
    ),
    CheckConstraint("monthly_maintenance_fee_minor >= 0", name="fee_not_negative"),
    CheckConstraint("transaction_fee_minor >= 0", name="transaction_fee_not_negative"),
)

deposit_maintenance_fees = Table(
    "deposit_maintenance_fees",
    metadata,
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False),
    Column("month", Date, nullable=False, comment="its first day"),
    Column("business_date", Date, nullable=False),
    Column("fee_minor", BigInteger, nullable=False),
    Column(
        "entry_id",
        Uuid,
        ForeignKey("journal_entries.id"),
        comment="the charge; NULL when waived",
    ),
    Column("waived_reason", String(32)),
    PrimaryKeyConstraint("account_id", "month"),
    CheckConstraint("fee_minor > 0", name="fee_positive"),
    CheckConstraint("(entry_id IS NULL) = (waived_reason IS NOT NULL)", name="charged_or_waived"),
)

deposit_transaction_fees = Table(
    "deposit_transaction_fees",
    metadata,
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("debits", Integer, nullable=False, comment="the fee-bearing debits of the day"),
    Column("fee_minor", BigInteger, nullable=False, comment="the product's fee times debits"),
    Column(
        "entry_id",
        Uuid,
        ForeignKey("journal_entries.id"),
        comment="the charge; NULL when waived",
    ),
    Column("waived_reason", String(32)),
    PrimaryKeyConstraint("account_id", "business_date"),
    CheckConstraint("debits > 0", name="debits_positive"),
    CheckConstraint("fee_minor > 0", name="fee_positive"),
    CheckConstraint("(entry_id IS NULL) = (waived_reason IS NOT NULL)", name="charged_or_waived"),
)

# Loans (docs/loans.md). A loan is opened from a term loan product version and keeps it; its
# own ledger account (accounts.kind = 'loan', ``account_id``) holds the principal
# outstanding from disbursement on (docs/adr/0008-loan-ledger-accounts.md). The schedule is
# ``loan_installments`` (what each installment asks for and what has been paid of it) and
# ``loan_prepayments``; the rate is the product's decimal string, never a float. Lists filter
# by customer, status and product, newest first (ids are UUIDv7, so the key orders them).
loans = Table(
    "loans",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column("product_id", Uuid, nullable=False),
    Column("product_version", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("principal_minor", BigInteger, nullable=False),
    Column("annual_rate", String(32), nullable=False, comment="decimal string of the fraction"),
    Column("installments", Integer, nullable=False),
    Column("frequency", _enum(RepaymentFrequency, "repayment_frequency"), nullable=False),
    Column("method", _enum(AmortizationMethod, "amortization_method"), nullable=False),
    Column("status", _enum(LoanStatus, "loan_status"), nullable=False),
    Column("deposit_account_id", Uuid, ForeignKey("accounts.id"), nullable=False),
    Column("account_id", Uuid, ForeignKey("accounts.id"), unique=True, comment="the loan's own"),
    Column("created_by", String(200), nullable=False),
    Column("decided_by", String(200), comment="who approved or rejected it"),
    Column("decided_at", UTCDateTime),
    Column("rejection_reason", String(500)),
    Column("first_due_date", Date),
    Column("disbursed_on", Date),
    Column("maturity_date", Date),
    Column("closed_on", Date, comment="paid off or written off on"),
    Column("disbursement_entry_id", Uuid, ForeignKey("journal_entries.id")),
    Column("level_minor", BigInteger, comment="the schedule's level installment or part"),
    Column("credit_minor", BigInteger, nullable=False, server_default="0"),
    Column("days_past_due", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(
        ["product_id", "product_version"], ["products.product_id", "products.version"]
    ),
    Index("ix_loans_customer_id", "customer_id"),
    Index("ix_loans_status", "status"),
    Index("ix_loans_product_id", "product_id"),
    CheckConstraint("principal_minor > 0", name="principal_positive"),
    CheckConstraint("installments > 0", name="installments_positive"),
    CheckConstraint("credit_minor >= 0", name="credit_not_negative"),
    CheckConstraint("days_past_due >= 0", name="days_past_due_not_negative"),
)

loan_installments = Table(
    "loan_installments",
    metadata,
    Column("loan_id", Uuid, ForeignKey("loans.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("period_start", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("principal_minor", BigInteger, nullable=False),
    Column("interest_minor", BigInteger, nullable=False),
    Column("deferred_interest_minor", BigInteger, nullable=False),
    Column("outstanding_after_minor", BigInteger, nullable=False),
    Column("penalty_minor", BigInteger, nullable=False, server_default="0"),
    Column("principal_paid_minor", BigInteger, nullable=False, server_default="0"),
    Column("interest_paid_minor", BigInteger, nullable=False, server_default="0"),
    Column("penalty_paid_minor", BigInteger, nullable=False, server_default="0"),
    Column("status", _enum(InstallmentStatus, "installment_status"), nullable=False),
    Column("late_fee_charged_on", Date),
    Column("paid_on", Date),
    Column("interest_billed_on", Date, comment="its unpaid interest became receivable"),
    PrimaryKeyConstraint("loan_id", "number"),
    Index("ix_loan_installments_status_due_date", "status", "due_date"),
    CheckConstraint(
        "principal_paid_minor BETWEEN 0 AND principal_minor", name="principal_paid_within"
    ),
    CheckConstraint(
        "interest_paid_minor BETWEEN 0 AND interest_minor", name="interest_paid_within"
    ),
    CheckConstraint("penalty_paid_minor BETWEEN 0 AND penalty_minor", name="penalty_paid_within"),
)

loan_prepayments = Table(
    "loan_prepayments",
    metadata,
    Column("loan_id", Uuid, ForeignKey("loans.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("principal_minor", BigInteger, nullable=False),
    Column("interest_minor", BigInteger, nullable=False),
    Column("deferred_interest_minor", BigInteger, nullable=False),
    Column("outstanding_after_minor", BigInteger, nullable=False),
    Column("entry_id", Uuid, ForeignKey("journal_entries.id"), nullable=False),
    PrimaryKeyConstraint("loan_id", "seq"),
)

# Credit lines (docs/credit-lines.md, docs/adr/0009-credit-line-ledger.md). A line's balance
# lives on the bank's general-ledger account 1300 (credit lines receivable) in its currency;
# ``credit_line_movements`` is the subledger: one row per line per journal entry that moved
# it, so a line's balance is the sum of its movements and `nexum verify` proves both against
# the journal. The product version's terms are copied onto the line (the version never
# changes), so close of business reads them in SQL without parsing product documents.
# Accrued interest, residues and rates are exact decimals (NUMERIC on PostgreSQL, decimal
# text on SQLite); their SQL arithmetic is in storage/credit_line_sql.py.
credit_lines = Table(
    "credit_lines",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column(
        "deposit_account_id",
        Uuid,
        ForeignKey("accounts.id"),
        nullable=False,
        comment="draws are paid into it, payments taken from it",
    ),
    Column("product_id", Uuid, nullable=False),
    Column("product_version", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("minor_units", SmallInteger, nullable=False, comment="the currency's decimals"),
    Column("status", _enum(CreditLineStatus, "credit_line_status"), nullable=False),
    Column("limit_minor", BigInteger, nullable=False),
    Column("principal_minor", BigInteger, nullable=False, server_default="0"),
    Column("interest_minor", BigInteger, nullable=False, server_default="0"),
    Column("fees_minor", BigInteger, nullable=False, server_default="0"),
    Column("annual_rate", EXACT_DECIMAL, nullable=False),
    Column("day_count", _enum(DayCount, "credit_line_day_count"), nullable=False),
    Column("statement_day", SmallInteger, nullable=False),
    Column("minimum_payment_rate", EXACT_DECIMAL, nullable=False),
    Column("minimum_payment_floor_minor", BigInteger, nullable=False),
    Column("grace_days", SmallInteger, nullable=False),
    Column("late_fee_minor", BigInteger, comment="a fixed late fee; NULL with a rate or none"),
    Column("late_fee_rate", EXACT_DECIMAL, comment="a late fee as a share of the unpaid minimum"),
    Column(
        "accrued_interest",
        EXACT_DECIMAL,
        nullable=False,
        comment="accrued in the open period, major units",
    ),
    Column("interest_residue", EXACT_DECIMAL, nullable=False, comment="carried, major units"),
    Column("accrued_through", Date),
    Column("period_start", Date, nullable=False),
    Column("period_opening_minor", BigInteger, nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(
        ["product_id", "product_version"], ["products.product_id", "products.version"]
    ),
    Index("ix_credit_lines_customer_id", "customer_id"),
    Index("ix_credit_lines_status_statement_day", "status", "statement_day"),
    CheckConstraint("limit_minor > 0", name="limit_positive"),
    CheckConstraint(
        "principal_minor >= 0 AND interest_minor >= 0 AND fees_minor >= 0",
        name="owed_not_negative",
    ),
    CheckConstraint("statement_day BETWEEN 1 AND 31", name="statement_day_in_month"),
    CheckConstraint(
        "late_fee_minor IS NULL OR late_fee_rate IS NULL", name="late_fee_fixed_or_rate"
    ),
)

credit_line_movements = Table(
    "credit_line_movements",
    metadata,
    Column("entry_id", Uuid, ForeignKey("journal_entries.id"), nullable=False),
    Column("credit_line_id", Uuid, ForeignKey("credit_lines.id"), nullable=False),
    Column("kind", _enum(MovementKind, "credit_line_movement_kind"), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("principal_minor", BigInteger, nullable=False, comment="signed change owed"),
    Column("interest_minor", BigInteger, nullable=False, comment="signed change owed"),
    Column("fees_minor", BigInteger, nullable=False, comment="signed change owed"),
    PrimaryKeyConstraint("entry_id", "credit_line_id"),
    Index(
        "ix_credit_line_movements_credit_line_id_business_date", "credit_line_id", "business_date"
    ),
)

credit_line_accruals = Table(
    "credit_line_accruals",
    metadata,
    Column("credit_line_id", Uuid, ForeignKey("credit_lines.id"), nullable=False),
    Column("accrual_date", Date, nullable=False),
    Column("balance_minor", BigInteger, nullable=False, comment="the day's closing balance"),
    Column("amount", EXACT_DECIMAL, nullable=False, comment="the day's interest, major units"),
    PrimaryKeyConstraint("credit_line_id", "accrual_date"),
)

credit_line_statements = Table(
    "credit_line_statements",
    metadata,
    Column("credit_line_id", Uuid, ForeignKey("credit_lines.id"), nullable=False),
    Column("statement_date", Date, nullable=False),
    Column("period_start", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("opening_minor", BigInteger, nullable=False),
    Column("draws_minor", BigInteger, nullable=False),
    Column("payments_minor", BigInteger, nullable=False),
    Column("interest_minor", BigInteger, nullable=False),
    Column("fees_minor", BigInteger, nullable=False),
    Column("closing_minor", BigInteger, nullable=False),
    Column("minimum_payment_minor", BigInteger, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("paid_minor", BigInteger, nullable=False, server_default="0"),
    Column("status", _enum(StatementStatus, "credit_line_statement_status"), nullable=False),
    Column("late_fee_minor", BigInteger, nullable=False, server_default="0"),
    Column("accrued_interest", EXACT_DECIMAL, nullable=False),
    Column("residue", EXACT_DECIMAL, nullable=False),
    Column("interest_entry_id", Uuid, ForeignKey("journal_entries.id")),
    Column("late_fee_entry_id", Uuid, ForeignKey("journal_entries.id")),
    PrimaryKeyConstraint("credit_line_id", "statement_date"),
    Index("ix_credit_line_statements_status_due_date", "status", "due_date"),
    Index("ix_credit_line_statements_statement_date", "statement_date"),
    CheckConstraint(
        "closing_minor = opening_minor + draws_minor - payments_minor + interest_minor"
        " + fees_minor",
        name="figures_agree",
    ),
)

# Term deposits (docs/term-deposits.md): one row per term deposit, keyed by its own ledger
# account (accounts.kind = 'term_deposit'), which holds its money. The row keeps the term it
# was opened with, its payout account and where it stands: the current term's start,
# principal and maturity, and how many terms it has run (rollovers start new ones).
term_deposits = Table(
    "term_deposits",
    metadata,
    Column("account_id", Uuid, ForeignKey("accounts.id"), primary_key=True),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column("product_id", Uuid, nullable=False),
    Column("product_version", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("principal_minor", BigInteger, nullable=False, comment="at the current term's start"),
    Column("term_length", Integer, nullable=False),
    Column("term_unit", _enum(TermUnit, "term_unit"), nullable=False),
    Column("maturity_action", _enum(MaturityAction, "maturity_action"), nullable=False),
    Column(
        "payout_account_id",
        Uuid,
        ForeignKey("accounts.id"),
        nullable=False,
        comment="where the money goes at maturity or early closure",
    ),
    Column("start_date", Date, nullable=False, comment="the first term's start"),
    Column("term_start", Date, nullable=False),
    Column("maturity_date", Date, nullable=False),
    Column("term_number", Integer, nullable=False, comment="1 for the first term"),
    Column("status", _enum(TermDepositStatus, "term_deposit_status"), nullable=False),
    Column("closed_on", Date),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(
        ["product_id", "product_version"], ["products.product_id", "products.version"]
    ),
    Index("ix_term_deposits_customer_id", "customer_id"),
    Index("ix_term_deposits_status_maturity_date", "status", "maturity_date"),
    CheckConstraint("principal_minor > 0", name="principal_positive"),
    CheckConstraint("term_length > 0 AND term_number > 0", name="term_positive"),
    CheckConstraint("term_start < maturity_date", name="term_ends_after_start"),
    CheckConstraint("(status = 'active') = (closed_on IS NULL)", name="closed_when_not_active"),
)
