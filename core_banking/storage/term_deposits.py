"""Term deposits in SQL: their records, read and written inside a unit of work.

One ``term_deposits`` row per deposit; their settlement at maturity is set-based:
storage/term_deposit_maturity.py.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.errors import NotFound
from core_banking.domain.lending.deposit_products import DepositTerm, MaturityAction, TermUnit
from core_banking.domain.lending.term_deposits import TermDeposit, TermDepositStatus
from core_banking.ports import TermDepositQuery
from core_banking.storage.schema import term_deposits


def term_deposit_from_row(row: Any) -> TermDeposit:
    return TermDeposit(
        account_id=row["account_id"],
        customer_id=row["customer_id"],
        product_id=row["product_id"],
        product_version=row["product_version"],
        currency=row["currency"],
        principal_minor=row["principal_minor"],
        term=DepositTerm(row["term_length"], TermUnit(row["term_unit"])),
        maturity_action=MaturityAction(row["maturity_action"]),
        payout_account_id=row["payout_account_id"],
        start_date=row["start_date"],
        term_start=row["term_start"],
        maturity_date=row["maturity_date"],
        term_number=row["term_number"],
        status=TermDepositStatus(row["status"]),
        closed_on=row["closed_on"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class TermDepositRepository:
    """Term deposits inside a unit of work (implements ``ports.TermDeposits``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert(self, deposit: TermDeposit) -> None:
        await self._conn.execute(
            insert(term_deposits).values(
                account_id=deposit.account_id,
                customer_id=deposit.customer_id,
                product_id=deposit.product_id,
                product_version=deposit.product_version,
                currency=deposit.currency,
                principal_minor=deposit.principal_minor,
                term_length=deposit.term.length,
                term_unit=deposit.term.unit.value,
                maturity_action=deposit.maturity_action.value,
                payout_account_id=deposit.payout_account_id,
                start_date=deposit.start_date,
                term_start=deposit.term_start,
                maturity_date=deposit.maturity_date,
                term_number=deposit.term_number,
                status=deposit.status.value,
                closed_on=deposit.closed_on,
                created_at=deposit.created_at,
                updated_at=deposit.updated_at,
            )
        )

    async def get(self, account_id: UUID) -> TermDeposit | None:
        row = (
            await self._conn.execute(
                select(term_deposits).where(term_deposits.c.account_id == account_id)
            )
        ).first()
        return term_deposit_from_row(row._mapping) if row else None

    async def lock(self, account_id: UUID) -> TermDeposit:
        row = (
            await self._conn.execute(
                select(term_deposits)
                .where(term_deposits.c.account_id == account_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("no such term deposit", term_deposit_id=str(account_id))
        return term_deposit_from_row(row._mapping)

    async def search(self, query: TermDepositQuery) -> list[TermDeposit]:
        statement = (
            select(term_deposits).order_by(term_deposits.c.account_id.desc()).limit(query.limit)
        )
        if query.after is not None:
            statement = statement.where(term_deposits.c.account_id < query.after)
        if query.customer_id is not None:
            statement = statement.where(term_deposits.c.customer_id == query.customer_id)
        if query.status is not None:
            statement = statement.where(term_deposits.c.status == query.status.value)
        return [term_deposit_from_row(row._mapping) for row in await self._conn.execute(statement)]

    async def close(
        self, account_id: UUID, status: TermDepositStatus, closed_on: date, now: datetime
    ) -> None:
        await self._conn.execute(
            update(term_deposits)
            .where(term_deposits.c.account_id == account_id)
            .values(status=status.value, closed_on=closed_on, updated_at=now)
        )
