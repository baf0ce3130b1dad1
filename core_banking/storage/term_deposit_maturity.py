"""Term deposits at maturity in SQL: settled set-based, chunk by chunk.

**Maturity on business date D** (docs/term-deposits.md). The interest step posts what
accrued on every deposit whose term ends with D (``SqlDepositInterest.post_maturing``);
then :class:`SqlTermDepositMaturity` settles them, chunk by chunk of deposits, each chunk
one transaction, nothing looped over in Python:

* payout: where the payout account can take money (active or dormant), one entry of type
  ``term_deposit_payout`` moves the whole balance to it (the statements the interest posting
  uses, the payout account in the "GL" column), the deposit's account is closed and the
  deposit marked paid out on D. A deposit whose payout account cannot take money stays
  active, earns nothing more, and is tried again at each close of business;
* rollover: the next term starts on its maturity date with the balance (interest included)
  as its principal; its maturity is counted from the first term's start.

On PostgreSQL the deposits of a chunk are locked first, then every account the payouts
touch, in id order (the order every posting locks in).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import text

from core_banking.domain.audit import AuditRecord
from core_banking.domain.ledger import Channel, EntryType
from core_banking.ports import ProgressReport, UnitOfWork
from core_banking.storage.base import Storage
from core_banking.storage.deposit_interest import (
    ACTOR,
    due_totals,
    entry_statements,
    finish_sqlite_chunk,
    in_chunks,
    lock_due_accounts_postgres,
    typed,
)
from core_banking.storage.term_deposit_sql import MATURING, next_maturity
from core_banking.storage.unit_of_work import SqlUnitOfWork

SETTLEMENT_CHUNK: Final = 5_000
"""Deposits settled per transaction."""
_DUE_TABLE: Final = "payout_due"

_IN_CHUNK = f"td.account_id > :after AND td.account_id <= :upto AND {MATURING}"

_LOCK_DEPOSITS_POSTGRES = f"""
SELECT td.account_id FROM term_deposits td WHERE {_IN_CHUNK} ORDER BY td.account_id FOR UPDATE
"""

_CREATE_DUE_POSTGRES = f"""
CREATE TEMP TABLE {_DUE_TABLE} (
    account_id uuid PRIMARY KEY, currency varchar(3), gl_account_id uuid, entry_id uuid,
    amount_minor bigint
) ON COMMIT DROP
"""

_CREATE_DUE_SQLITE = f"""
CREATE TEMP TABLE {_DUE_TABLE} (
    account_id PRIMARY KEY, currency, gl_account_id, entry_id, amount_minor
)
"""

# The payouts: every deposit of the chunk due and paying out whose payout account takes
# credits. ``gl_account_id`` is the payout account (entry_statements' other account).
_DUE = f"""
INSERT INTO {_DUE_TABLE} (account_id, currency, gl_account_id, entry_id, amount_minor)
SELECT td.account_id, a.currency, td.payout_account_id, nexum_uuid7(), a.posted_minor
  FROM term_deposits td
  JOIN accounts a ON a.id = td.account_id
  JOIN accounts p ON p.id = td.payout_account_id
 WHERE {_IN_CHUNK}
   AND td.maturity_action = 'payout' AND p.status IN ('active', 'dormant')
"""

_CLOSE_ACCOUNTS = f"""
UPDATE accounts SET status = 'closed', updated_at = :now
 WHERE id IN (SELECT account_id FROM {_DUE_TABLE})
"""

_PAID_OUT = f"""
UPDATE term_deposits SET status = 'paid_out', closed_on = :day, updated_at = :now
 WHERE account_id IN (SELECT account_id FROM {_DUE_TABLE})
"""


def _rollover(dialect: str) -> str:
    """The next term of every deposit of the chunk due and rolling over: it starts on the
    maturity date, with the balance as its principal."""
    return f"""
UPDATE term_deposits AS td
   SET term_number = td.term_number + 1,
       term_start = td.maturity_date,
       maturity_date = {next_maturity(dialect)},
       principal_minor = (SELECT a.posted_minor FROM accounts a WHERE a.id = td.account_id),
       updated_at = :now
 WHERE {_IN_CHUNK} AND td.maturity_action = 'rollover'
"""


_AWAITING = f"SELECT COUNT(*) FROM term_deposits td WHERE {_IN_CHUNK}"

_MATURING_COUNT = f"SELECT COUNT(*) FROM term_deposits td WHERE {MATURING}"

_NEXT_BOUND = f"""
SELECT account_id AS bound FROM (
    SELECT td.account_id FROM term_deposits td
     WHERE td.account_id > :after AND {MATURING}
     ORDER BY td.account_id LIMIT :chunk) chunk
 ORDER BY account_id DESC LIMIT 1
"""


class SqlTermDepositMaturity:
    """Settles matured term deposits on either database (implements
    ``ports.TermDepositMaturityBook``)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def settle(self, business_date: date, report: ProgressReport) -> int:
        """Pay out or roll over every deposit whose term ends with ``business_date`` (or
        ended before and awaits its payout); returns the deposits settled."""
        parameters: dict[str, Any] = {
            "day": business_date,
            "maturing_by": business_date + timedelta(days=1),
            "entry_type": EntryType.TERM_DEPOSIT_PAYOUT.value,
            "actor": ACTOR,
            "channel": Channel.SYSTEM.value,
            "reference": f"term deposit matured {business_date.isoformat()}",
        }

        async def settle_chunk(uow: UnitOfWork, bounds: dict[str, Any]) -> int:
            return await self._settle_chunk(cast(SqlUnitOfWork, uow), {**parameters, **bounds})

        return await in_chunks(
            self._storage,
            _MATURING_COUNT,
            _NEXT_BOUND,
            SETTLEMENT_CHUNK,
            settle_chunk,
            report,
            {"maturing_by": parameters["maturing_by"]},
        )

    async def _settle_chunk(self, uow: SqlUnitOfWork, parameters: dict[str, Any]) -> int:
        conn = uow.connection
        dialect = self._storage.engine.dialect.name
        if dialect == "postgresql":
            await conn.execute(typed(_LOCK_DEPOSITS_POSTGRES), parameters)
            parameters["now"] = await conn.scalar(text("SELECT clock_timestamp()"))
            await conn.execute(text(_CREATE_DUE_POSTGRES))
        else:
            parameters["now"] = datetime.now(UTC)
            await conn.execute(text(_CREATE_DUE_SQLITE))
        due = int(await conn.scalar(typed(_AWAITING), parameters) or 0)
        await conn.execute(typed(_DUE), parameters)
        if dialect == "postgresql":
            await conn.execute(text(lock_due_accounts_postgres(_DUE_TABLE)))
        paid = int(await conn.scalar(text(f"SELECT COUNT(*) FROM {_DUE_TABLE}")) or 0)
        totals = (await conn.execute(text(due_totals(_DUE_TABLE)))).all()
        for statement in entry_statements(dialect, _DUE_TABLE, "D"):
            await conn.execute(typed(statement), parameters)
        await conn.execute(typed(_CLOSE_ACCOUNTS), parameters)
        await conn.execute(typed(_PAID_OUT), parameters)
        rolled = (await conn.execute(typed(_rollover(dialect)), parameters)).rowcount
        if dialect != "postgresql":
            await finish_sqlite_chunk(uow, parameters["now"], _DUE_TABLE, "a term deposit payout")
        if paid or rolled:
            await uow.audit.append(
                AuditRecord(
                    occurred_at=parameters["now"],
                    actor=ACTOR,
                    action="term_deposits.matured",
                    entity_type="business_date",
                    entity_id=parameters["day"].isoformat(),
                    details={
                        "from_deposit": str(parameters["after"]),
                        "to_deposit": str(parameters["upto"]),
                        "paid_out": paid,
                        "rolled_over": rolled,
                        "awaiting_payout": due - paid - rolled,
                        "amount_minor": {row.currency: int(row.amount_minor) for row in totals},
                    },
                )
            )
        return paid + rolled
