"""Deposit fees in SQL: what the maintenance fee and the transaction fee share.

Both close-of-business steps charge a fee on every due deposit account at once, in chunks
of accounts by id (one transaction each), with the entry statements the interest posting
uses (storage/deposit_interest.py). Nothing loops over accounts in Python. A step says
only which accounts are due and how many times its fee is owed (a ``FeeCharge``); the rest
is here.

**Terms.** Before each run, any deposit product version not yet derived is decoded by the
domain and its fees (the monthly maintenance fee, the per-transaction fee) written to
``deposit_fee_terms`` (a version's terms never change, so each is derived once).

**The charge.** For each due account the fee owed is the product's fee times the units
owed (one month; so many debits). Where the account's available funds (posted - held +
overdraft limit, as any debit is checked) cover the whole of it, one journal entry: debit
the account, credit fee income (4100) of its currency. Otherwise nothing is posted (never a
part of the fee) and the account is recorded as waived, reason ``insufficient_funds``.
Either way the step's own record is written in the same transaction as its entry, so a
rerun finds nothing due.

On PostgreSQL the accounts of a chunk and the fee income accounts are locked in id order
before their balances are read, the order every posting locks in.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, cast

from sqlalchemy import text

from core_banking.domain.audit import AuditRecord
from core_banking.domain.chart import GLCode
from core_banking.domain.ledger import Channel, EntryType
from core_banking.ports import ProgressReport, UnitOfWork
from core_banking.storage.base import Storage
from core_banking.storage.deposit_interest import (
    ACTOR,
    deposit_products_not_in,
    due_totals,
    entry_statements,
    finish_sqlite_chunk,
    in_chunks,
    next_open_account_bound,
    open_account_count,
    typed,
)
from core_banking.storage.schema import deposit_fee_terms
from core_banking.storage.unit_of_work import SqlUnitOfWork

FEE_CHUNK: Final = 5_000
"""Accounts charged per transaction (each charge writes an entry and two lines)."""
INSUFFICIENT_FUNDS: Final = "insufficient_funds"
_DUE_TABLE: Final = "fee_due"
_FEE_PAYING_KINDS: Final = "('deposit')"
"""Fees are charged to deposit accounts; a term deposit is never charged one."""

_CREATE_DUE_POSTGRES = f"""
CREATE TEMP TABLE {_DUE_TABLE} (
    account_id uuid PRIMARY KEY, currency varchar(3), gl_account_id uuid, entry_id uuid,
    units bigint, fee_minor bigint, amount_minor bigint
) ON COMMIT DROP
"""

_CREATE_DUE_SQLITE = f"""
CREATE TEMP TABLE {_DUE_TABLE} (
    account_id PRIMARY KEY, currency, gl_account_id, entry_id, units, fee_minor, amount_minor
)
"""

_WAIVED = f"SELECT COUNT(*) FROM {_DUE_TABLE} WHERE amount_minor = 0"

FEE_ACCOUNTS: Final = """
      FROM accounts a
      JOIN deposit_fee_terms f
        ON f.product_id = a.product_id AND f.product_version = a.product_version
      JOIN accounts g ON g.kind = 'gl' AND g.code = :income_code AND g.currency = a.currency
"""
"""The start of every ``FeeCharge.due_from``: each account ``a`` with its product version's
fees ``f`` and the fee income account ``g`` of its currency."""

IN_CHUNK: Final = """
       a.id > :after AND a.id <= :upto AND a.kind = 'deposit' AND a.status <> 'closed'
"""
"""The condition every ``FeeCharge.due_from`` starts its WHERE with: the chunk's open
deposit accounts."""


@dataclass(frozen=True, slots=True)
class FeeCharge:
    """One fee step's SQL: who owes how much, and how the step records it."""

    due_from: str
    """FROM and WHERE of the due accounts of a chunk: ``FEE_ACCOUNTS`` (more may be joined),
    then ``WHERE`` ``IN_CHUNK`` and the step's own conditions."""
    unit_fee: str
    """The product's fee, once (an SQL expression over ``due_from``)."""
    units: str
    """How many times the fee is owed (an SQL expression over ``due_from``, at least 1)."""
    table: str
    """The step's record: account_id, fee_minor, entry_id (NULL when waived),
    waived_reason, and ``columns``."""
    columns: Mapping[str, str]
    """The record's other columns: what each holds, an SQL expression over the due table
    (account_id, units, fee_minor) or a parameter."""
    entry_type: EntryType
    audit_action: str
    what: str
    """Names one of its entries in an error."""
    reference: str = ":reference"
    """The entries' reference, an SQL expression over the due row ``d``."""
    metadata: Mapping[str, str] | None = None
    """The entries' metadata by dialect, SQL expressions over ``d``; empty when None."""

    def due(self) -> str:
        """The INSERT filling the due table; amount_minor is the fee where the available
        funds cover it, else 0 (waived): the entry statements post the positive rows only."""
        fee = f"({self.unit_fee}) * ({self.units})"
        return f"""
INSERT INTO {_DUE_TABLE}
    (account_id, currency, gl_account_id, entry_id, units, fee_minor, amount_minor)
SELECT a.id, a.currency, g.id, nexum_uuid7(), {self.units}, {fee},
       CASE WHEN a.posted_minor - a.held_minor + a.overdraft_limit_minor >= {fee}
            THEN {fee} ELSE 0 END
{self.due_from}
"""

    def record(self) -> str:
        """The INSERT of the step's rows, one per due account, charged or waived."""
        names = ", ".join(self.columns)
        values = ", ".join(self.columns.values())
        return f"""
INSERT INTO {self.table} (account_id, {names}, fee_minor, entry_id, waived_reason)
SELECT account_id, {values}, fee_minor,
       CASE WHEN amount_minor > 0 THEN entry_id END,
       CASE WHEN amount_minor > 0 THEN NULL ELSE CAST(:waived_reason AS varchar(32)) END
  FROM {_DUE_TABLE}
"""

    def lock_postgres(self) -> str:
        """Lock the chunk's due accounts and their fee income accounts, in id order."""
        return f"""
SELECT x.id FROM accounts x
 WHERE x.id IN (SELECT a.id {self.due_from} UNION SELECT g.id {self.due_from})
 ORDER BY x.id FOR UPDATE
"""


async def derive_fee_terms(storage: Storage) -> int:
    """Write the fees of every deposit product version not derived yet."""

    async def derive(uow: UnitOfWork) -> int:
        conn = cast(SqlUnitOfWork, uow).connection
        decoded = await deposit_products_not_in(conn, deposit_fee_terms)
        if decoded:
            await conn.execute(
                deposit_fee_terms.insert(),
                [
                    {
                        "product_id": product.product_id,
                        "product_version": product.version,
                        "monthly_maintenance_fee_minor": product.monthly_maintenance_fee_minor,
                        "transaction_fee_minor": product.transaction_fee_minor,
                    }
                    for product in decoded
                ],
            )
        return len(decoded)

    return await storage.atomically(derive)


async def charge_fees(
    storage: Storage,
    charge: FeeCharge,
    business_date: date,
    parameters: Mapping[str, Any],
    audit_details: Mapping[str, Any],
    report: ProgressReport,
) -> int:
    """Charge (or waive) ``charge`` on every account due on ``business_date``; returns the
    accounts settled, charged or waived. ``parameters`` are the step's own (``reference``
    among them unless its reference is an expression); ``audit_details`` go into each
    chunk's audit record."""
    await derive_fee_terms(storage)
    every: dict[str, Any] = {
        "day": business_date,
        "income_code": GLCode.FEE_INCOME.value,
        "entry_type": charge.entry_type.value,
        "actor": ACTOR,
        "channel": Channel.SYSTEM.value,
        "waived_reason": INSUFFICIENT_FUNDS,
        **parameters,
    }
    return await in_chunks(
        storage,
        open_account_count(_FEE_PAYING_KINDS),
        next_open_account_bound(_FEE_PAYING_KINDS),
        FEE_CHUNK,
        functools.partial(_charge_chunk, charge, every, audit_details),
        report,
    )


async def _charge_chunk(
    charge: FeeCharge,
    parameters: dict[str, Any],
    audit_details: Mapping[str, Any],
    uow: UnitOfWork,
    bounds: dict[str, Any],
) -> int:
    parameters = {**parameters, **bounds}
    sql_uow = cast(SqlUnitOfWork, uow)
    conn = sql_uow.connection
    dialect = conn.dialect.name
    if dialect == "postgresql":
        await conn.execute(typed(charge.lock_postgres()), parameters)
        parameters["now"] = await conn.scalar(text("SELECT clock_timestamp()"))
        await conn.execute(text(_CREATE_DUE_POSTGRES))
    else:
        parameters["now"] = datetime.now(UTC)
        await conn.execute(text(_CREATE_DUE_SQLITE))
    await conn.execute(typed(charge.due()), parameters)
    settled = int(await conn.scalar(text(f"SELECT COUNT(*) FROM {_DUE_TABLE}")) or 0)
    waived = int(await conn.scalar(text(_WAIVED)) or 0)
    totals = (await conn.execute(text(due_totals(_DUE_TABLE)))).all()
    metadata = None if charge.metadata is None else charge.metadata[dialect]
    for statement in entry_statements(
        dialect, _DUE_TABLE, "D", reference=charge.reference, metadata=metadata
    ):
        await conn.execute(typed(statement), parameters)
    await conn.execute(typed(charge.record()), parameters)
    if dialect != "postgresql":
        await finish_sqlite_chunk(sql_uow, parameters["now"], _DUE_TABLE, charge.what)
    if settled:
        await sql_uow.audit.append(
            AuditRecord(
                occurred_at=parameters["now"],
                actor=ACTOR,
                action=charge.audit_action,
                entity_type="business_date",
                entity_id=parameters["day"].isoformat(),
                details={
                    **audit_details,
                    "from_account": str(parameters["after"]),
                    "to_account": str(parameters["upto"]),
                    "entries": {row.currency: int(row.entries) for row in totals},
                    "amount_minor": {row.currency: int(row.amount_minor) for row in totals},
                    "waived": waived,
                },
            )
        )
    return settled
