"""Deposit maintenance fees in SQL: the month-end charge, set-based.

The close-of-business step charges every due account at once, in chunks of accounts by id
(one transaction each), with the entry statements the interest posting uses
(storage/deposit_interest.py). Nothing loops over accounts in Python.

**Terms.** Before each run, any deposit product version not yet derived is decoded by the
domain and its monthly maintenance fee written to ``deposit_fee_terms`` (a version's terms
never change, so each is derived once).

**The charge for the month of D.** Due: every deposit account that is not closed, opened
from a product version whose fee is above zero, with no row in ``deposit_maintenance_fees``
for the month yet. Where the account's available funds (posted - held + overdraft limit, as
any debit is checked) cover the whole fee, one journal entry of type ``maintenance_fee``:
debit the account, credit fee income (4100) of its currency. Otherwise nothing is posted
(never a part of the fee) and the month is recorded as waived, reason
``insufficient_funds``. Either way the account's month is recorded in the same transaction
as its entry, so a rerun finds nothing due.

On PostgreSQL the accounts of a chunk and the fee income accounts are locked in id order
before their balances are read, the order every posting locks in.
"""

from __future__ import annotations

import functools
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
    typed,
)
from core_banking.storage.schema import deposit_fee_terms
from core_banking.storage.unit_of_work import SqlUnitOfWork

FEE_CHUNK: Final = 5_000
"""Accounts charged per transaction (each charge writes an entry and two lines)."""
INSUFFICIENT_FUNDS: Final = "insufficient_funds"
_DUE_TABLE: Final = "fee_due"

_DUE_FROM = """
      FROM accounts a
      JOIN deposit_fee_terms f
        ON f.product_id = a.product_id AND f.product_version = a.product_version
      JOIN accounts g ON g.kind = 'gl' AND g.code = :income_code AND g.currency = a.currency
      LEFT JOIN deposit_maintenance_fees m ON m.account_id = a.id AND m.month = :month
     WHERE a.id > :after AND a.id <= :upto
       AND a.kind = 'deposit' AND a.status <> 'closed'
       AND f.monthly_maintenance_fee_minor > 0
       AND m.account_id IS NULL
"""

_LOCK_POSTGRES = f"""
SELECT x.id FROM accounts x
 WHERE x.id IN (SELECT a.id {_DUE_FROM} UNION SELECT g.id {_DUE_FROM})
 ORDER BY x.id FOR UPDATE
"""

_CREATE_DUE_POSTGRES = f"""
CREATE TEMP TABLE {_DUE_TABLE} (
    account_id uuid PRIMARY KEY, currency varchar(3), gl_account_id uuid, entry_id uuid,
    amount_minor bigint, fee_minor bigint
) ON COMMIT DROP
"""

_CREATE_DUE_SQLITE = f"""
CREATE TEMP TABLE {_DUE_TABLE} (
    account_id PRIMARY KEY, currency, gl_account_id, entry_id, amount_minor, fee_minor
)
"""

# amount_minor is the fee where the available funds cover it, else 0 (waived): the entry
# statements post the positive rows only.
_DUE = f"""
INSERT INTO {_DUE_TABLE} (account_id, currency, gl_account_id, entry_id, amount_minor, fee_minor)
SELECT a.id, a.currency, g.id, nexum_uuid7(),
       CASE WHEN a.posted_minor - a.held_minor + a.overdraft_limit_minor
                 >= f.monthly_maintenance_fee_minor
            THEN f.monthly_maintenance_fee_minor ELSE 0 END,
       f.monthly_maintenance_fee_minor
{_DUE_FROM}
"""

_RECORD = f"""
INSERT INTO deposit_maintenance_fees
    (account_id, month, business_date, fee_minor, entry_id, waived_reason)
SELECT account_id, :month, :day, fee_minor,
       CASE WHEN amount_minor > 0 THEN entry_id END,
       CASE WHEN amount_minor > 0 THEN NULL ELSE CAST(:waived_reason AS varchar(32)) END
  FROM {_DUE_TABLE}
"""

_WAIVED = f"SELECT COUNT(*) FROM {_DUE_TABLE} WHERE amount_minor = 0"

_ACCOUNT_COUNT = """
SELECT COUNT(*) FROM accounts a
 WHERE a.kind = 'deposit' AND a.product_id IS NOT NULL AND a.status <> 'closed'
"""

_NEXT_BOUND = """
SELECT id AS bound FROM (
    SELECT a.id FROM accounts a
     WHERE a.id > :after AND a.kind = 'deposit' AND a.product_id IS NOT NULL
       AND a.status <> 'closed'
     ORDER BY a.id LIMIT :chunk) chunk
 ORDER BY id DESC LIMIT 1
"""


class SqlMaintenanceFees:
    """The maintenance fee book on either database (implements ``ports.MaintenanceFeeBook``)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _dialect(self) -> str:
        return self._storage.engine.dialect.name

    async def derive_terms(self) -> int:
        """Write the monthly fee of every deposit product version not derived yet."""

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
                            "monthly_maintenance_fee_minor": (
                                product.monthly_maintenance_fee_minor
                            ),
                        }
                        for product in decoded
                    ],
                )
            return len(decoded)

        return await self._storage.atomically(derive)

    async def charge(self, business_date: date, month: date, report: ProgressReport) -> int:
        """Charge (or waive) ``month``'s fee on every account due on ``business_date``;
        returns the accounts settled, charged or waived (none for a month already done)."""
        await self.derive_terms()
        parameters: dict[str, Any] = {
            "day": business_date,
            "month": month,
            "income_code": GLCode.FEE_INCOME.value,
            "entry_type": EntryType.MAINTENANCE_FEE.value,
            "actor": ACTOR,
            "channel": Channel.SYSTEM.value,
            "reference": f"maintenance fee {month:%Y-%m}",
            "waived_reason": INSUFFICIENT_FUNDS,
        }
        return await in_chunks(
            self._storage,
            _ACCOUNT_COUNT,
            _NEXT_BOUND,
            FEE_CHUNK,
            functools.partial(self._charge_chunk, parameters),
            report,
        )

    async def _charge_chunk(
        self, parameters: dict[str, Any], uow: UnitOfWork, bounds: dict[str, Any]
    ) -> int:
        parameters = {**parameters, **bounds}
        sql_uow = cast(SqlUnitOfWork, uow)
        conn = sql_uow.connection
        dialect = self._dialect
        if dialect == "postgresql":
            await conn.execute(typed(_LOCK_POSTGRES), parameters)
            parameters["now"] = await conn.scalar(text("SELECT clock_timestamp()"))
            await conn.execute(text(_CREATE_DUE_POSTGRES))
            await conn.execute(typed(_DUE), parameters)
        else:
            parameters["now"] = datetime.now(UTC)
            await conn.execute(text(_CREATE_DUE_SQLITE))
            await conn.execute(typed(_DUE), parameters)
        settled = int(await conn.scalar(text(f"SELECT COUNT(*) FROM {_DUE_TABLE}")) or 0)
        waived = int(await conn.scalar(text(_WAIVED)) or 0)
        totals = (await conn.execute(text(due_totals(_DUE_TABLE)))).all()
        for statement in entry_statements(dialect, _DUE_TABLE, "D"):
            await conn.execute(typed(statement), parameters)
        await conn.execute(typed(_RECORD), parameters)
        if dialect != "postgresql":
            await finish_sqlite_chunk(sql_uow, parameters["now"], _DUE_TABLE, "a maintenance fee")
        if settled:
            await sql_uow.audit.append(
                AuditRecord(
                    occurred_at=parameters["now"],
                    actor=ACTOR,
                    action="maintenance_fees.charged",
                    entity_type="business_date",
                    entity_id=parameters["day"].isoformat(),
                    details={
                        "month": parameters["month"].isoformat(),
                        "from_account": str(parameters["after"]),
                        "to_account": str(parameters["upto"]),
                        "entries": {row.currency: int(row.entries) for row in totals},
                        "amount_minor": {row.currency: int(row.amount_minor) for row in totals},
                        "waived": waived,
                    },
                )
            )
        return settled
