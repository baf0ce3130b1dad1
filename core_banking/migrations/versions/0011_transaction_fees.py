"""Deposit transaction fees: each product version's fee per debit, each account's days.

``deposit_fee_terms`` gains ``transaction_fee_minor``. Its rows are derived data (each
deposit product version's fees, decoded from ``products.definition`` by the
close-of-business fee steps), so the upgrade deletes them rather than guessing the new
column: the next fee step derives every version again, with both fees. New table
``deposit_transaction_fees`` (storage/schema.py says what it holds): one row per account
and business date whose fee-bearing debits were charged (with the journal entry) or waived
(with the reason); the primary key makes the fee once per account and day. The new entry
type needs no change to ``journal_entries.entry_type``, which is free text.

Index ``ix_journal_entries_business_date``: the step counts each account's debits of one
business date, which without it is a scan of the whole journal (``posted_at``, the only
indexed time, is the wall clock and may fall on another day than the business date). With
it the count reads that date's entries only, then their lines by primary key. A btree, not
a BRIN like ``posted_at``'s: the close of business posts entries dated D after live
postings of D + 1, so business dates are not quite in the table's physical order. Building
it locks writes to ``journal_entries`` for as long as it takes on a large journal: run this
revision in a quiet hour.

The downgrade drops the table, the index and the column; the entries already posted stay
in the journal (posted history never changes).

Revision ID: 0011_transaction_fees
Revises: 0010_term_deposits
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_transaction_fees"
down_revision: str | None = "0010_term_deposits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM deposit_fee_terms")
    with op.batch_alter_table("deposit_fee_terms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transaction_fee_minor", sa.BigInteger(), nullable=False))
        batch_op.create_check_constraint(
            op.f("ck_deposit_fee_terms_transaction_fee_not_negative"),
            "transaction_fee_minor >= 0",
        )
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.create_index("ix_journal_entries_business_date", ["business_date"], unique=False)
    op.create_table(
        "deposit_transaction_fees",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column(
            "debits", sa.Integer(), nullable=False, comment="the fee-bearing debits of the day"
        ),
        sa.Column(
            "fee_minor",
            sa.BigInteger(),
            nullable=False,
            comment="the product's fee times debits",
        ),
        sa.Column("entry_id", sa.Uuid(), nullable=True, comment="the charge; NULL when waived"),
        sa.Column("waived_reason", sa.String(length=32), nullable=True),
        sa.CheckConstraint("debits > 0", name=op.f("ck_deposit_transaction_fees_debits_positive")),
        sa.CheckConstraint("fee_minor > 0", name=op.f("ck_deposit_transaction_fees_fee_positive")),
        sa.CheckConstraint(
            "(entry_id IS NULL) = (waived_reason IS NOT NULL)",
            name=op.f("ck_deposit_transaction_fees_charged_or_waived"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_deposit_transaction_fees_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_deposit_transaction_fees_entry_id_journal_entries"),
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "business_date", name=op.f("pk_deposit_transaction_fees")
        ),
    )


def downgrade() -> None:
    op.drop_table("deposit_transaction_fees")
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_entries_business_date")
    with op.batch_alter_table("deposit_fee_terms", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("ck_deposit_fee_terms_transaction_fee_not_negative"), type_="check"
        )
        batch_op.drop_column("transaction_fee_minor")
