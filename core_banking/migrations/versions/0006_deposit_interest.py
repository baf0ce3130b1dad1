"""Deposit interest: daily accruals and each account's accrued, unposted interest and residue.

Four tables (storage/schema.py says what each holds): the interest terms of each deposit
product version and its rate tiers, as rows SQL can join; one accrual per account and
business date; each account's interest state. Exact decimals are NUMERIC on PostgreSQL and
decimal text on SQLite. PostgreSQL also gets two functions the close-of-business SQL uses:
``nexum_divide_half_even`` (an exact quotient rounded half to even, as the domain rounds)
and ``nexum_uuid7`` (time-ordered entry ids, as the application makes them). SQLite gets its
functions from Python on every connection (storage/interest_functions.py).

Revision ID: 0006_deposit_interest
Revises: 0005_close_of_business
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_deposit_interest"
down_revision: str | None = "0005_close_of_business"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EXACT = sa.Numeric().with_variant(sa.String(length=48), "sqlite")

_DIVIDE_HALF_EVEN = """
CREATE FUNCTION nexum_divide_half_even(p_numerator numeric, p_denominator numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    -- numerator >= 0, denominator > 0: the integer quotient, rounded half to even
    SELECT div(p_numerator, p_denominator)
           + CASE WHEN 2 * mod(p_numerator, p_denominator) > p_denominator
                    OR (2 * mod(p_numerator, p_denominator) = p_denominator
                        AND mod(div(p_numerator, p_denominator), 2) = 1)
                  THEN 1 ELSE 0 END
$$
"""

_UUID7 = """
CREATE FUNCTION nexum_uuid7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    -- RFC 9562 version 7: 48 bits of Unix milliseconds, the version, then random bits
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(
                        floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$
"""


def upgrade() -> None:
    op.create_table(
        "deposit_interest_terms",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("product_version", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "minor_units", sa.SmallInteger(), nullable=False, comment="the currency's decimals"
        ),
        sa.Column(
            "rate_kind", sa.String(length=8), nullable=False, comment="fixed, banded or whole"
        ),
        sa.Column("day_count", sa.String(length=16), nullable=False),
        sa.Column("compounding", sa.String(length=16), nullable=False),
        sa.Column("posting_frequency", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "rate_kind IN ('fixed', 'banded', 'whole')",
            name=op.f("ck_deposit_interest_terms_rate_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id", "product_version"],
            ["products.product_id", "products.version"],
            name=op.f("fk_deposit_interest_terms_product_id_products"),
        ),
        sa.PrimaryKeyConstraint(
            "product_id", "product_version", name=op.f("pk_deposit_interest_terms")
        ),
    )
    op.create_table(
        "deposit_interest_tiers",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("product_version", sa.Integer(), nullable=False),
        sa.Column("tier_no", sa.SmallInteger(), nullable=False),
        sa.Column("from_minor", sa.BigInteger(), nullable=False),
        sa.Column(
            "upto_minor",
            sa.BigInteger(),
            nullable=True,
            comment="the next tier's threshold; NULL for the last",
        ),
        sa.Column("annual_rate", _EXACT, nullable=False),
        sa.Column(
            "banded_below",
            _EXACT,
            nullable=False,
            comment="a year's banded interest on from_minor, in minor units",
        ),
        sa.ForeignKeyConstraint(
            ["product_id", "product_version"],
            ["deposit_interest_terms.product_id", "deposit_interest_terms.product_version"],
            name=op.f("fk_deposit_interest_tiers_product_id_deposit_interest_terms"),
        ),
        sa.PrimaryKeyConstraint(
            "product_id", "product_version", "tier_no", name=op.f("pk_deposit_interest_tiers")
        ),
    )
    op.create_table(
        "deposit_interest_accruals",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("closing_balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("annual_rate", _EXACT, nullable=False, comment="the tier the base reached"),
        sa.Column("accrued", _EXACT, nullable=False, comment="major units"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_deposit_interest_accruals_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "business_date", name=op.f("pk_deposit_interest_accruals")
        ),
    )
    op.create_table(
        "deposit_interest_state",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("accrued", _EXACT, nullable=False, comment="accrued since the last posting"),
        sa.Column("residue", _EXACT, nullable=False, comment="below one minor unit, carried"),
        sa.Column(
            "credited_minor", sa.BigInteger(), nullable=False, comment="interest posted, in total"
        ),
        sa.Column("last_accrual_date", sa.Date(), nullable=True),
        sa.Column("last_posting_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_deposit_interest_state_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_deposit_interest_state")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DIVIDE_HALF_EVEN)
        op.execute(_UUID7)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION nexum_uuid7()")
        op.execute("DROP FUNCTION nexum_divide_half_even(numeric, numeric)")
    op.drop_table("deposit_interest_state")
    op.drop_table("deposit_interest_accruals")
    op.drop_table("deposit_interest_tiers")
    op.drop_table("deposit_interest_terms")
