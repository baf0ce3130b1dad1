"""Credit lines, their subledger of movements, daily accruals and statements.

Two kinds of work live here. Single-line operations (open, lock, record a draw or a payment)
are plain reads and writes of one row. Close of business is set-based: each method below
marked "close of business" is a few SQL statements over every line due, in batches of at
most ``limit`` lines, with the exact arithmetic done by the ``nexum_credit_line_*``
functions (NUMERIC on PostgreSQL, the domain's own rules on SQLite:
``storage/credit_line_sql.py``). Each batch records what it did in its own transaction (the
accrual row and ``accrued_through``, the statement row and the line's new period), so a
second run of a date finds nothing left to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Date,
    Integer,
    RowMapping,
    String,
    TextClause,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine, Uuid

from core_banking.domain.errors import NotFound
from core_banking.domain.lending.credit_line_accounts import (
    CreditLine,
    CreditLineStatement,
    CreditLineStatus,
    CreditLineTerms,
    Movement,
    MovementKind,
    StatementStatus,
)
from core_banking.domain.lending.credit_line_products import MinimumPaymentRule
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.fees import FeeKind, FeeRule
from core_banking.domain.money import currency
from core_banking.ports import CreditLineQuery
from core_banking.storage.credit_line_sql import define_functions
from core_banking.storage.schema import (
    credit_line_movements,
    credit_line_statements,
    credit_lines,
)
from core_banking.storage.types import EXACT_DECIMAL, UTCDateTime

_ACCRUING = "('active', 'frozen', 'overdue')"
"""Lines that accrue interest and get statements, as an SQL list: all but closed ones."""

_TYPES: Mapping[str, TypeEngine[Any]] = {
    "business_date": Date(),
    "next_day": Date(),
    "now": UTCDateTime(),
    "entry_id": Uuid(),
    "currency": String(),
    "zero": EXACT_DECIMAL,
    "precision": Integer(),
    "batch": Integer(),
}


_EXPANDING_TYPES: Mapping[str, TypeEngine[Any]] = {
    "line_ids": Uuid(),
    "statement_days": Integer(),
}


def _sql(statement: str, **extra_types: TypeEngine[Any]) -> TextClause:
    """A statement whose named parameters carry their column types (so SQLite gets dates
    and ids in its stored form, and PostgreSQL knows every parameter's type); the
    ``line_ids`` and ``statement_days`` lists expand for IN."""
    types = {**_TYPES, **extra_types}
    params = [
        bindparam(name, type_=type_) for name, type_ in types.items() if f":{name}" in statement
    ]
    params += [
        bindparam(name, expanding=True, type_=type_)
        for name, type_ in _EXPANDING_TYPES.items()
        if f":{name}" in statement
    ]
    return text(statement).bindparams(*params)


def line_from_row(row: RowMapping) -> CreditLine:
    late_fee = (
        FeeRule.fixed(row["late_fee_minor"])
        if row["late_fee_minor"] is not None
        else FeeRule.percent(row["late_fee_rate"])
        if row["late_fee_rate"] is not None
        else None
    )
    return CreditLine(
        id=row["id"],
        customer_id=row["customer_id"],
        deposit_account_id=row["deposit_account_id"],
        product_id=row["product_id"],
        product_version=row["product_version"],
        currency=row["currency"],
        status=CreditLineStatus(row["status"]),
        limit_minor=row["limit_minor"],
        principal_minor=row["principal_minor"],
        interest_minor=row["interest_minor"],
        fees_minor=row["fees_minor"],
        terms=CreditLineTerms(
            annual_rate=row["annual_rate"],
            day_count=DayCount(row["day_count"]),
            statement_day=row["statement_day"],
            minimum_payment=MinimumPaymentRule(
                row["minimum_payment_rate"], row["minimum_payment_floor_minor"]
            ),
            grace_days=row["grace_days"],
            late_fee=late_fee,
        ),
        accrued_interest=row["accrued_interest"],
        interest_residue=row["interest_residue"],
        accrued_through=row["accrued_through"],
        period_start=row["period_start"],
        period_opening_minor=row["period_opening_minor"],
        opened_on=row["opened_on"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def statement_from_row(row: RowMapping) -> CreditLineStatement:
    return CreditLineStatement(
        credit_line_id=row["credit_line_id"],
        statement_date=row["statement_date"],
        period_start=row["period_start"],
        currency=row["currency"],
        opening_minor=row["opening_minor"],
        draws_minor=row["draws_minor"],
        payments_minor=row["payments_minor"],
        interest_minor=row["interest_minor"],
        fees_minor=row["fees_minor"],
        closing_minor=row["closing_minor"],
        minimum_payment_minor=row["minimum_payment_minor"],
        due_date=row["due_date"],
        paid_minor=row["paid_minor"],
        status=StatementStatus(row["status"]),
        late_fee_minor=row["late_fee_minor"],
        accrued_interest=row["accrued_interest"],
        residue=row["residue"],
        interest_entry_id=row["interest_entry_id"],
        late_fee_entry_id=row["late_fee_entry_id"],
    )


class CreditLineRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._postgres = conn.dialect.name == "postgresql"

    # --- one line ---------------------------------------------------------------------------

    async def insert(self, line: CreditLine) -> None:
        terms = line.terms
        late_fee = terms.late_fee
        await self._conn.execute(
            insert(credit_lines).values(
                id=line.id,
                customer_id=line.customer_id,
                deposit_account_id=line.deposit_account_id,
                product_id=line.product_id,
                product_version=line.product_version,
                currency=line.currency,
                minor_units=currency(line.currency).minor_units,
                status=line.status.value,
                limit_minor=line.limit_minor,
                principal_minor=line.principal_minor,
                interest_minor=line.interest_minor,
                fees_minor=line.fees_minor,
                annual_rate=terms.annual_rate,
                day_count=terms.day_count.value,
                statement_day=terms.statement_day,
                minimum_payment_rate=terms.minimum_payment.rate,
                minimum_payment_floor_minor=terms.minimum_payment.floor_minor,
                grace_days=terms.grace_days,
                late_fee_minor=late_fee.amount_minor
                if late_fee is not None and late_fee.kind is FeeKind.FIXED
                else None,
                late_fee_rate=late_fee.rate
                if late_fee is not None and late_fee.kind is FeeKind.PERCENT
                else None,
                accrued_interest=line.accrued_interest,
                interest_residue=line.interest_residue,
                accrued_through=line.accrued_through,
                period_start=line.period_start,
                period_opening_minor=line.period_opening_minor,
                opened_on=line.opened_on,
                created_at=line.created_at,
                updated_at=line.updated_at,
            )
        )

    async def get(self, credit_line_id: UUID) -> CreditLine | None:
        row = (
            await self._conn.execute(
                select(credit_lines).where(credit_lines.c.id == credit_line_id)
            )
        ).first()
        return line_from_row(row._mapping) if row else None

    async def lock(self, credit_line_id: UUID) -> CreditLine:
        """The line, locked until the transaction ends: every operation on a line takes
        this lock before the ledger locks its accounts."""
        row = (
            await self._conn.execute(
                select(credit_lines).where(credit_lines.c.id == credit_line_id).with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("no such credit line", credit_line_id=str(credit_line_id))
        return line_from_row(row._mapping)

    async def search(self, query: CreditLineQuery) -> list[CreditLine]:
        statement = select(credit_lines).order_by(credit_lines.c.id.desc()).limit(query.limit)
        if query.after is not None:
            statement = statement.where(credit_lines.c.id < query.after)
        if query.customer_id is not None:
            statement = statement.where(credit_lines.c.customer_id == query.customer_id)
        if query.status is not None:
            statement = statement.where(credit_lines.c.status == query.status.value)
        if query.currency is not None:
            statement = statement.where(credit_lines.c.currency == query.currency)
        return [line_from_row(row._mapping) for row in await self._conn.execute(statement)]

    async def set_status(
        self, credit_line_id: UUID, status: CreditLineStatus, now: datetime
    ) -> None:
        await self._conn.execute(
            update(credit_lines)
            .where(credit_lines.c.id == credit_line_id)
            .values(status=status.value, updated_at=now)
        )

    async def record_movement(self, movement: Movement, now: datetime) -> None:
        """Write one movement of the subledger and apply it to the line's balances."""
        await self._conn.execute(
            insert(credit_line_movements).values(
                entry_id=movement.entry_id,
                credit_line_id=movement.credit_line_id,
                kind=movement.kind.value,
                business_date=movement.business_date,
                currency=movement.currency,
                principal_minor=movement.principal_minor,
                interest_minor=movement.interest_minor,
                fees_minor=movement.fees_minor,
            )
        )
        await self._conn.execute(
            update(credit_lines)
            .where(credit_lines.c.id == movement.credit_line_id)
            .values(
                principal_minor=credit_lines.c.principal_minor + movement.principal_minor,
                interest_minor=credit_lines.c.interest_minor + movement.interest_minor,
                fees_minor=credit_lines.c.fees_minor + movement.fees_minor,
                updated_at=now,
            )
        )

    async def movement(self, entry_id: UUID) -> Movement | None:
        row = (
            await self._conn.execute(
                select(credit_line_movements).where(credit_line_movements.c.entry_id == entry_id)
            )
        ).first()
        if row is None:
            return None
        return Movement(
            entry_id=row.entry_id,
            credit_line_id=row.credit_line_id,
            kind=MovementKind(row.kind),
            business_date=row.business_date,
            currency=row.currency,
            principal_minor=row.principal_minor,
            interest_minor=row.interest_minor,
            fees_minor=row.fees_minor,
        )

    async def count_payment(self, credit_line_id: UUID, amount_minor: int, now: datetime) -> None:
        """A payment counts toward the minimum of every statement not yet paid; a statement
        whose minimum is reached is paid, and a line with no overdue statement left is
        active again."""
        statements = credit_line_statements.c
        unpaid = (statements.credit_line_id == credit_line_id) & statements.status.in_(
            [StatementStatus.DUE.value, StatementStatus.OVERDUE.value]
        )
        await self._conn.execute(
            update(credit_line_statements)
            .where(unpaid)
            .values(paid_minor=statements.paid_minor + amount_minor)
        )
        await self._conn.execute(
            update(credit_line_statements)
            .where(unpaid, statements.paid_minor >= statements.minimum_payment_minor)
            .values(status=StatementStatus.PAID.value)
        )
        still_overdue = (
            select(func.count())
            .select_from(credit_line_statements)
            .where(
                statements.credit_line_id == credit_line_id,
                statements.status == StatementStatus.OVERDUE.value,
            )
            .scalar_subquery()
        )
        await self._conn.execute(
            update(credit_lines)
            .where(
                credit_lines.c.id == credit_line_id,
                credit_lines.c.status == CreditLineStatus.OVERDUE.value,
                still_overdue == 0,
            )
            .values(status=CreditLineStatus.ACTIVE.value, updated_at=now)
        )

    async def statements(
        self, credit_line_id: UUID, limit: int, before: date | None = None
    ) -> list[CreditLineStatement]:
        """A page of the line's statements, newest first."""
        statement = (
            select(credit_line_statements)
            .where(credit_line_statements.c.credit_line_id == credit_line_id)
            .order_by(credit_line_statements.c.statement_date.desc())
            .limit(limit)
        )
        if before is not None:
            statement = statement.where(credit_line_statements.c.statement_date < before)
        return [statement_from_row(row._mapping) for row in await self._conn.execute(statement)]

    # --- close of business: daily interest ---------------------------------------------------

    async def accrue(
        self,
        business_date: date,
        day_fractions: Mapping[DayCount, tuple[int, int]],
        precision: int,
        now: datetime,
        limit: int,
    ) -> int:
        """Close of business: one day's interest for up to ``limit`` lines not yet accrued
        for ``business_date``, on each line's balance at the close of that day (the open
        period's opening balance and its movements up to that day). ``day_fractions`` gives
        each convention's (numerator, denominator) of the day's year fraction."""
        await define_functions(self._conn)
        fraction_params: dict[str, Any] = {}
        numerators, denominators = [], []
        for position, convention in enumerate(DayCount):
            numerator, denominator = day_fractions[convention]
            fraction_params[f"numerator_{position}"] = numerator
            fraction_params[f"denominator_{position}"] = denominator
            numerators.append(f"WHEN '{convention.value}' THEN :numerator_{position}")
            denominators.append(f"WHEN '{convention.value}' THEN :denominator_{position}")
        inserted = await self._conn.execute(
            _sql(
                "INSERT INTO credit_line_accruals"
                " (credit_line_id, accrual_date, balance_minor, amount)"
                " SELECT due.id, :business_date, due.balance_minor,"
                "  nexum_credit_line_daily_accrual(due.balance_minor, due.annual_rate,"
                f"   CASE due.day_count {' '.join(numerators)} END,"
                f"   CASE due.day_count {' '.join(denominators)} END,"
                "   due.minor_units, :precision)"
                " FROM (SELECT l.id, l.annual_rate, l.day_count, l.minor_units,"
                "   l.period_opening_minor + COALESCE((SELECT SUM(m.principal_minor"
                "     + m.interest_minor + m.fees_minor) FROM credit_line_movements m"
                "     WHERE m.credit_line_id = l.id AND m.business_date >= l.period_start"
                "     AND m.business_date <= :business_date), 0) AS balance_minor"
                "  FROM credit_lines l"
                f"  WHERE l.status IN {_ACCRUING} AND l.period_start <= :business_date"
                "   AND (l.accrued_through IS NULL OR l.accrued_through < :business_date)"
                "  ORDER BY l.id LIMIT :batch) due",
                **{name: Integer() for name in fraction_params},
            ),
            {
                "business_date": business_date,
                "precision": precision,
                "batch": limit,
                **fraction_params,
            },
        )
        await self._conn.execute(
            _sql(
                "UPDATE credit_lines SET"
                " accrued_interest = nexum_credit_line_add(accrued_interest,"
                "  (SELECT a.amount FROM credit_line_accruals a"
                "   WHERE a.credit_line_id = credit_lines.id AND a.accrual_date = :business_date)),"
                " accrued_through = :business_date, updated_at = :now"
                " WHERE (accrued_through IS NULL OR accrued_through < :business_date)"
                " AND EXISTS (SELECT 1 FROM credit_line_accruals a"
                "  WHERE a.credit_line_id = credit_lines.id AND a.accrual_date = :business_date)"
            ),
            {"business_date": business_date, "now": now},
        )
        return int(inserted.rowcount)

    # --- close of business: overdue statements and late fees ---------------------------------

    async def mark_overdue(self, business_date: date, now: datetime, limit: int) -> int:
        """Close of business: statements whose due date has closed with the minimum unpaid
        become overdue, each charged the line's late fee once (recorded on the statement,
        posted by :meth:`attach_late_fees`), and their active lines become overdue. At most
        ``limit`` lines at a time; the number of lines."""
        candidates = await self._conn.execute(
            _sql(
                "SELECT DISTINCT credit_line_id FROM credit_line_statements"
                " WHERE status = 'due' AND due_date <= :business_date"
                " AND paid_minor < minimum_payment_minor"
                " ORDER BY credit_line_id LIMIT :batch"
            ).columns(credit_line_id=Uuid()),
            {"business_date": business_date, "batch": limit},
        )
        line_ids = await self._locked([row.credit_line_id for row in candidates])
        if not line_ids:
            return 0
        await define_functions(self._conn)
        await self._conn.execute(
            _sql(
                "UPDATE credit_line_statements SET status = 'overdue',"
                " late_fee_minor = nexum_credit_line_late_fee("
                "  minimum_payment_minor - paid_minor,"
                "  (SELECT l.late_fee_minor FROM credit_lines l"
                "   WHERE l.id = credit_line_statements.credit_line_id),"
                "  (SELECT l.late_fee_rate FROM credit_lines l"
                "   WHERE l.id = credit_line_statements.credit_line_id))"
                " WHERE credit_line_id IN :line_ids AND status = 'due'"
                " AND due_date <= :business_date AND paid_minor < minimum_payment_minor",
            ),
            {"business_date": business_date, "line_ids": line_ids},
        )
        await self._conn.execute(
            update(credit_lines)
            .where(
                credit_lines.c.id.in_(line_ids),
                credit_lines.c.status == CreditLineStatus.ACTIVE.value,
            )
            .values(status=CreditLineStatus.OVERDUE.value, updated_at=now)
        )
        return len(line_ids)

    async def unposted_late_fees(self) -> list[tuple[str, int]]:
        """(currency, total) of late fees charged on statements and not yet posted."""
        rows = await self._conn.execute(
            text(
                "SELECT currency, SUM(late_fee_minor) AS total FROM credit_line_statements"
                " WHERE status = 'overdue' AND late_fee_entry_id IS NULL AND late_fee_minor > 0"
                " GROUP BY currency ORDER BY currency"
            )
        )
        return [(row.currency, int(row.total)) for row in rows]

    async def attach_late_fees(
        self, currency_code: str, entry_id: UUID, business_date: date, now: datetime
    ) -> None:
        """Record the late fees of ``currency_code`` posted by ``entry_id``: a movement per
        line (its share of the entry) added to the line's fees, and the entry on each
        statement."""
        unposted = (
            " FROM credit_line_statements s WHERE s.status = 'overdue'"
            " AND s.late_fee_entry_id IS NULL AND s.late_fee_minor > 0"
            " AND s.currency = :currency"
        )
        params = {"entry_id": entry_id, "business_date": business_date, "currency": currency_code}
        await self._conn.execute(
            _sql(
                "INSERT INTO credit_line_movements (entry_id, credit_line_id, kind,"
                " business_date, currency, principal_minor, interest_minor, fees_minor)"
                f" SELECT :entry_id, s.credit_line_id, {self._kind('late_fee')},"
                " :business_date, s.currency, 0, 0, SUM(s.late_fee_minor)"
                f"{unposted} GROUP BY s.credit_line_id, s.currency"
            ),
            params,
        )
        await self._add_movements_to_lines(entry_id, now)
        await self._conn.execute(
            _sql(
                "UPDATE credit_line_statements SET late_fee_entry_id = :entry_id"
                " WHERE status = 'overdue' AND late_fee_entry_id IS NULL AND late_fee_minor > 0"
                " AND currency = :currency"
            ),
            {"entry_id": entry_id, "currency": currency_code},
        )

    # --- close of business: statements -------------------------------------------------------

    async def cut_statements(
        self, business_date: date, statement_days: Sequence[int], now: datetime, limit: int
    ) -> int:
        """Close of business: the statement of up to ``limit`` lines whose statement date is
        ``business_date`` (their ``statement_day`` is one of ``statement_days``). Each closes
        the open period: the accrued interest and carried residue are billed in whole minor
        units (posted by :meth:`attach_interest`), the new residue carried, the minimum
        payment and due date set, and the line's next period opened. The number of lines."""
        candidates = await self._conn.execute(
            _sql(
                "SELECT id FROM credit_lines"
                f" WHERE status IN {_ACCRUING} AND statement_day IN :statement_days"
                " AND period_start <= :business_date ORDER BY id LIMIT :batch"
            ).columns(id=Uuid()),
            {
                "business_date": business_date,
                "statement_days": list(statement_days),
                "batch": limit,
            },
        )
        line_ids = await self._locked([row.id for row in candidates])
        if not line_ids:
            return 0
        await define_functions(self._conn)
        closing = "f.opening + f.draws - f.payments + f.interest + f.fees"
        minimum = (
            f"nexum_credit_line_minimum_payment({closing}, f.minimum_payment_rate,"
            " f.minimum_payment_floor_minor)"
        )
        # payments already made after the statement date (close of business runs once the
        # date has ended) count toward its minimum from the start
        status = f"CASE WHEN {minimum} <= f.paid_since THEN 'paid' ELSE 'due' END"
        await self._conn.execute(
            _sql(
                "INSERT INTO credit_line_statements (credit_line_id, statement_date,"
                " period_start, currency, opening_minor, draws_minor, payments_minor,"
                " interest_minor, fees_minor, closing_minor, minimum_payment_minor, due_date,"
                " paid_minor, status, late_fee_minor, accrued_interest, residue)"
                " SELECT f.id, :business_date, f.period_start, f.currency, f.opening, f.draws,"
                f" f.payments, f.interest, f.fees, {closing}, {minimum},"
                f" {self._plus_days(':business_date', 'f.grace_days')}, f.paid_since,"
                f" {self._statement_status(status)},"
                " 0, f.accrued_interest,"
                " nexum_credit_line_carried_residue(f.accrued_interest, f.interest_residue,"
                "  f.minor_units)"
                " FROM (SELECT l.id, l.period_start, l.currency, l.grace_days, l.minor_units,"
                "   l.minimum_payment_rate, l.minimum_payment_floor_minor, l.accrued_interest,"
                "   l.interest_residue, l.period_opening_minor AS opening,"
                "   COALESCE(SUM(CASE WHEN m.kind = 'draw' THEN m.principal_minor END), 0)"
                "    AS draws,"
                "   -COALESCE(SUM(CASE WHEN m.kind = 'payment' THEN m.principal_minor"
                "    + m.interest_minor + m.fees_minor END), 0) AS payments,"
                "   COALESCE(SUM(CASE WHEN m.kind = 'late_fee' THEN m.fees_minor END), 0)"
                "    AS fees,"
                "   nexum_credit_line_billed_minor(l.accrued_interest, l.interest_residue,"
                "    l.minor_units) AS interest,"
                "   -COALESCE((SELECT SUM(p.principal_minor + p.interest_minor + p.fees_minor)"
                "    FROM credit_line_movements p WHERE p.credit_line_id = l.id"
                "    AND p.kind = 'payment' AND p.business_date > :business_date), 0)"
                "    AS paid_since"
                "  FROM credit_lines l LEFT JOIN credit_line_movements m"
                "   ON m.credit_line_id = l.id AND m.business_date >= l.period_start"
                "   AND m.business_date <= :business_date"
                "  WHERE l.id IN :line_ids"
                "  GROUP BY l.id, l.period_start, l.currency, l.grace_days, l.minor_units,"
                "   l.minimum_payment_rate, l.minimum_payment_floor_minor, l.accrued_interest,"
                "   l.interest_residue, l.period_opening_minor) f"
            ),
            {"business_date": business_date, "line_ids": line_ids},
        )
        this_statement = (
            "(SELECT s.{column} FROM credit_line_statements s"
            " WHERE s.credit_line_id = credit_lines.id AND s.statement_date = :business_date)"
        )
        await self._conn.execute(
            _sql(
                "UPDATE credit_lines SET"
                " interest_minor = interest_minor"
                f" + {this_statement.format(column='interest_minor')},"
                f" interest_residue = {this_statement.format(column='residue')},"
                f" period_opening_minor = {this_statement.format(column='closing_minor')},"
                " accrued_interest = :zero, period_start = :next_day, updated_at = :now"
                " WHERE id IN :line_ids"
            ),
            {
                "business_date": business_date,
                "next_day": business_date + timedelta(days=1),
                "zero": Decimal(0),
                "now": now,
                "line_ids": line_ids,
            },
        )
        return len(line_ids)

    async def unposted_interest(self, business_date: date) -> list[tuple[str, int]]:
        """(currency, total) of interest billed by ``business_date``'s statements and not
        yet posted."""
        rows = await self._conn.execute(
            _sql(
                "SELECT currency, SUM(interest_minor) AS total FROM credit_line_statements"
                " WHERE statement_date = :business_date AND interest_entry_id IS NULL"
                " AND interest_minor > 0 GROUP BY currency ORDER BY currency"
            ),
            {"business_date": business_date},
        )
        return [(row.currency, int(row.total)) for row in rows]

    async def attach_interest(
        self, currency_code: str, entry_id: UUID, business_date: date
    ) -> None:
        """Record the interest of ``currency_code`` posted by ``entry_id``: each line's
        share as a movement (the line's balance took it when its statement was cut) and
        the entry on each statement."""
        unposted = (
            " WHERE statement_date = :business_date AND interest_entry_id IS NULL"
            " AND interest_minor > 0 AND currency = :currency"
        )
        params = {"entry_id": entry_id, "business_date": business_date, "currency": currency_code}
        await self._conn.execute(
            _sql(
                "INSERT INTO credit_line_movements (entry_id, credit_line_id, kind,"
                " business_date, currency, principal_minor, interest_minor, fees_minor)"
                f" SELECT :entry_id, credit_line_id, {self._kind('interest')}, :business_date,"
                f" currency, 0, interest_minor, 0 FROM credit_line_statements{unposted}"
            ),
            params,
        )
        await self._conn.execute(
            _sql(f"UPDATE credit_line_statements SET interest_entry_id = :entry_id{unposted}"),
            params,
        )

    # --- helpers -------------------------------------------------------------------------

    async def _locked(self, line_ids: list[UUID]) -> list[UUID]:
        """Lock the lines, in id order (PostgreSQL; SQLite's writer lock covers them),
        before close of business reads and changes them: a draw or payment on one of them
        waits, and none slips in between."""
        if self._postgres and line_ids:
            await self._conn.execute(
                select(credit_lines.c.id)
                .where(credit_lines.c.id.in_(line_ids))
                .order_by(credit_lines.c.id)
                .with_for_update()
            )
        return line_ids

    async def _add_movements_to_lines(self, entry_id: UUID, now: datetime) -> None:
        """Apply each line's movement of ``entry_id`` to its balances."""
        share = (
            "(SELECT m.{column} FROM credit_line_movements m"
            " WHERE m.entry_id = :entry_id AND m.credit_line_id = credit_lines.id)"
        )
        await self._conn.execute(
            _sql(
                "UPDATE credit_lines SET"
                f" principal_minor = principal_minor + {share.format(column='principal_minor')},"
                f" interest_minor = interest_minor + {share.format(column='interest_minor')},"
                f" fees_minor = fees_minor + {share.format(column='fees_minor')},"
                " updated_at = :now"
                " WHERE id IN (SELECT credit_line_id FROM credit_line_movements"
                "  WHERE entry_id = :entry_id)"
            ),
            {"entry_id": entry_id, "now": now},
        )

    def _plus_days(self, day: str, days: str) -> str:
        if self._postgres:
            return f"(CAST({day} AS DATE) + {days})"
        return f"date({day}, '+' || {days} || ' days')"

    def _kind(self, kind: str) -> str:
        return f"CAST({_q(kind)} AS credit_line_movement_kind)" if self._postgres else _q(kind)

    def _statement_status(self, expression: str) -> str:
        if self._postgres:
            return f"CAST({expression} AS credit_line_statement_status)"
        return expression


def _q(value: str) -> str:
    """A fixed SQL string literal (only ever the names of enum members written here)."""
    return f"'{value}'"
