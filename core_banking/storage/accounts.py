"""Reading and writing account rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core_banking.domain.accounts import (
    Account,
    AccountKind,
    AccountStatus,
    AccountType,
    ProductType,
)
from core_banking.domain.chart import CHART, gl_account_id
from core_banking.domain.errors import DuplicateAccountNumber, NotFound
from core_banking.storage.errors import violated_constraint
from core_banking.storage.schema import accounts
from core_banking.storage.sql import insert_or_ignore


def account_from_row(row: RowMapping) -> Account:
    product = row["product"]
    return Account(
        id=row["id"],
        kind=AccountKind(row["kind"]),
        account_type=AccountType(row["account_type"]),
        currency=row["currency"],
        status=AccountStatus(row["status"]),
        name=row["name"],
        code=row["code"],
        number=row["number"],
        customer_id=row["customer_id"],
        product=ProductType(product) if product is not None else None,
        posted_minor=row["posted_minor"],
        held_minor=row["held_minor"],
        overdraft_limit_minor=row["overdraft_limit_minor"],
        min_balance_minor=row["min_balance_minor"],
        daily_limit_minor=row["daily_limit_minor"],
        daily_debit_minor=row["daily_debit_minor"],
        daily_debit_date=row["daily_debit_date"],
        line_seq=row["line_seq"],
        last_posted_at=row["last_posted_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        product_id=row["product_id"],
        product_version=row["product_version"],
    )


def account_row(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "kind": account.kind.value,
        "account_type": account.account_type.value,
        "currency": account.currency,
        "status": account.status.value,
        "name": account.name,
        "code": account.code,
        "number": account.number,
        "customer_id": account.customer_id,
        "product": account.product.value if account.product else None,
        "posted_minor": account.posted_minor,
        "held_minor": account.held_minor,
        "overdraft_limit_minor": account.overdraft_limit_minor,
        "min_balance_minor": account.min_balance_minor,
        "daily_limit_minor": account.daily_limit_minor,
        "daily_debit_minor": account.daily_debit_minor,
        "daily_debit_date": account.daily_debit_date,
        "line_seq": account.line_seq,
        "last_posted_at": account.last_posted_at,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
        "product_id": account.product_id,
        "product_version": account.product_version,
    }


class AccountRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, account_id: UUID) -> Account | None:
        row = (
            await self._conn.execute(select(accounts).where(accounts.c.id == account_id))
        ).first()
        return account_from_row(row._mapping) if row else None

    async def of_customer(self, customer_id: UUID) -> list[Account]:
        rows = await self._conn.execute(
            select(accounts).where(accounts.c.customer_id == customer_id).order_by(accounts.c.id)
        )
        return [account_from_row(row._mapping) for row in rows]

    async def lock(self, account_id: UUID) -> Account:
        """The account row, locked until the transaction ends (SQLite: the writer lock)."""
        row = (
            await self._conn.execute(
                select(accounts).where(accounts.c.id == account_id).with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("no such account", account_id=str(account_id))
        return account_from_row(row._mapping)

    async def lock_many(self, account_ids: set[UUID]) -> dict[UUID, Account]:
        """Lock several accounts in id order, the one order every writer uses."""
        rows = await self._conn.execute(
            select(accounts)
            .where(accounts.c.id.in_(sorted(account_ids)))
            .order_by(accounts.c.id)
            .with_for_update()
        )
        found = {row.id: account_from_row(row._mapping) for row in rows}
        missing = account_ids - found.keys()
        if missing:
            raise NotFound("no such account", account_id=str(min(missing)))
        return found

    async def number_taken(self, number: str) -> bool:
        found = await self._conn.scalar(select(accounts.c.id).where(accounts.c.number == number))
        return found is not None

    async def insert(self, account: Account) -> None:
        try:
            await self._conn.execute(accounts.insert().values(account_row(account)))
        except IntegrityError as exc:
            constraint = violated_constraint(exc) or ""
            if "number" in constraint:
                raise DuplicateAccountNumber(
                    "account number already taken", number=account.number
                ) from exc
            raise

    async def set_status(self, account_id: UUID, status: AccountStatus, now: datetime) -> None:
        await self._conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(status=status.value, updated_at=now)
        )

    async def set_holds(
        self,
        account_id: UUID,
        *,
        held_minor: int,
        daily_debit_minor: int,
        daily_debit_date: date | None,
        now: datetime,
    ) -> None:
        await self._conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(
                held_minor=held_minor,
                daily_debit_minor=daily_debit_minor,
                daily_debit_date=daily_debit_date,
                updated_at=now,
            )
        )

    async def ensure_chart(self, currency: str, now: datetime) -> None:
        """Create the bank's general-ledger accounts in ``currency`` if they are missing."""
        await self.ensure_charts([currency], now)

    async def ensure_charts(self, currencies: Iterable[str], now: datetime) -> None:
        """The same for several currencies, in one statement."""
        await self._conn.execute(
            insert_or_ignore(self._conn, accounts),
            [
                {
                    "id": gl_account_id(spec.code, currency),
                    "kind": AccountKind.GENERAL_LEDGER.value,
                    "account_type": spec.account_type.value,
                    "currency": currency,
                    "status": AccountStatus.ACTIVE.value,
                    "name": f"{spec.name} ({currency})",
                    "code": spec.code.value,
                    "created_at": now,
                    "updated_at": now,
                }
                for currency in currencies
                for spec in CHART
            ],
        )
