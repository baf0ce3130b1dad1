"""Deposit interest in SQL: the daily accrual and the periodic posting, set-based.

Both close-of-business steps work on every due account at once, in chunks of accounts by
id (one transaction each, so progress can be reported and a crash loses at most a chunk,
which the rerun then does). Nothing loops over accounts in Python.

**Terms.** A product's interest terms live in ``products.definition`` (JSON). Before each
run, any deposit product version not yet derived is decoded by the domain and written as
rows: ``deposit_interest_terms`` (day count, compounding, posting frequency, rate kind,
currency decimals) and ``deposit_interest_tiers`` (a fixed rate is one tier from zero; each
tier carries its upper bound and a year's banded interest on a balance at its threshold,
so a balance needs only the one tier it reaches). A
version's terms never change, so each is derived once; doing it at step time keeps the
catalogue's code untouched and cannot miss a version however it was written.

**Accrual of business date D.** For each deposit account that is not closed (and each term
deposit on the days of its term: storage/term_deposit_sql.py), has a product,
has a journal line of business date D or earlier, has not accrued D or a later day, and has
not been posted on D or later: the closing balance of D (the balance after the account's
latest line whose entry's business date is D or earlier — the business date, never the
wall clock, says which day a posting belongs to), the base the product's compounding makes
of it (never below zero), a year's interest on it by the tiers, times the day count's
fraction of D, rounded half to even once to ``accrual_decimals(precision, currency)``
decimals. One row per (account, D) — the primary key — and the account's state gains it
in the same transaction.

PostgreSQL computes with NUMERIC (exact; ``nexum_divide_half_even`` rounds as the domain
does); SQLite calls the domain through the functions of ``interest_functions``.

**Posting on D.** For accounts whose product's frequency ends a period on D (or, with
``post_maturing``, term deposits whose term ends with D), not posted on D yet: accrued +
residue splits into whole minor units (toward zero) and a new residue. A positive amount is
one journal entry: debit the bank's interest expense in the account's currency, credit the
account; balances, positions and balances-after are computed exactly as the posting engine
does, the interest expense account's by a running window. The state is reset (accrued 0,
the new residue carried, posted on D) for every due account, zero amounts included.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final, cast
from uuid import UUID

from sqlalchemy import (
    BindParameter,
    Date,
    String,
    Table,
    TextClause,
    Uuid,
    bindparam,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

from core_banking.domain.audit import AuditRecord
from core_banking.domain.chart import GLCode
from core_banking.domain.errors import UnbalancedEntry
from core_banking.domain.ledger import Channel, EntryType
from core_banking.domain.lending.catalog import ProductKind
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.deposit_products import DepositProduct, InterestPostingFrequency
from core_banking.domain.lending.interest_posting import InterestPosition
from core_banking.domain.lending.rates import FixedRate, RateTier, TieredRate, TierMethod
from core_banking.ports import ProgressReport, UnitOfWork
from core_banking.storage.base import Storage
from core_banking.storage.interest_functions import exact_decimal
from core_banking.storage.product_documents import product_from_row
from core_banking.storage.schema import (
    accounts,
    deposit_interest_state,
    deposit_interest_terms,
    deposit_interest_tiers,
    products,
)
from core_banking.storage.term_deposit_sql import DEPOSIT_KINDS, EARNING, MATURING
from core_banking.storage.types import UTCDateTime
from core_banking.storage.unit_of_work import SqlUnitOfWork

ACCRUAL_CHUNK: Final = 10_000
"""Accounts accrued per transaction."""
POSTING_CHUNK: Final = 5_000
"""Accounts posted per transaction (each posting writes an entry and two lines)."""
ACTOR: Final = "system:close_of_business"
_BEFORE_ALL_IDS: Final = UUID(int=0)


# --- shared SQL fragments -------------------------------------------------------------------

# The closing balance of business date D: the balance after the account's latest line (the
# highest position) whose entry belongs to D or an earlier business date; NULL when it has
# none. Business dates, not posting times: ``posted_at`` is the wall-clock moment a line was
# written, which a back-dated or late close of business, or a virtual clock, puts on
# another day than the business date the posting belongs to. The walk goes backwards on the
# (account_id, account_seq) index and stops at the first line of D or before: usually the
# newest, as postings after D are rare when D is closed.
_CLOSING_BALANCE = """
    (SELECT l.balance_after_minor
       FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
      WHERE l.account_id = a.id AND e.business_date <= :day
      ORDER BY l.account_seq DESC LIMIT 1)
"""

# An account accrues D once it has a closing balance of D, that is from the business date
# of its first posting. Not from ``accounts.created_at``: that is a wall-clock moment too,
# and an account opened while the business date is still D (the close of D running after
# midnight) would miss D. Before its first posting an account has nothing to earn on, so
# accruing from its first posting loses nothing.
_HAS_CLOSING_BALANCE = "closing_minor IS NOT NULL"


def _accruing_accounts(joined: str = "") -> str:
    """FROM and WHERE of the accounts that accrue the day (``joined``: more to join)."""
    return f"""
      FROM accounts a
      JOIN deposit_interest_terms t
        ON t.product_id = a.product_id AND t.product_version = a.product_version
      {joined}
      LEFT JOIN deposit_interest_state s ON s.account_id = a.id
      LEFT JOIN term_deposits td ON td.account_id = a.id
     WHERE a.id > :after AND a.id <= :upto
       AND a.kind IN {DEPOSIT_KINDS} AND a.status <> 'closed' AND {EARNING}
       AND (s.last_accrual_date IS NULL OR s.last_accrual_date < :day)
       AND (s.last_posting_date IS NULL OR s.last_posting_date < :day)
"""


# PostgreSQL: one statement per chunk. The day fraction of D under each day count comes in
# as rows (computed by the domain). Each closing balance is computed once (MATERIALIZED);
# each base joins the one tier it reaches, which carries the banded interest below it.
_ACCRUE_POSTGRES = f"""
WITH fractions (day_count, days, year_days) AS (VALUES {{fractions}}),
eligible AS MATERIALIZED (
    SELECT a.id AS account_id, a.product_id, a.product_version, t.rate_kind, t.minor_units,
           t.compounding, f.days, f.year_days,
           GREATEST(CAST(:precision AS integer), t.minor_units) AS decimals,
           {_CLOSING_BALANCE} AS closing_minor,
           COALESCE(s.credited_minor, 0) AS credited_minor,
           COALESCE(s.accrued, 0) AS unposted
    {_accruing_accounts("JOIN fractions f ON f.day_count = t.day_count")}
),
based AS (
    SELECT e.*,
           GREATEST(CASE e.compounding
                        WHEN 'none' THEN e.closing_minor - e.credited_minor
                        WHEN 'daily' THEN e.closing_minor
                                          + e.unposted * power(10::numeric, e.minor_units)
                        ELSE e.closing_minor END, 0)::numeric AS base_minor
      FROM eligible e
     WHERE e.{_HAS_CLOSING_BALANCE}
),
rated AS (
    SELECT b.account_id, b.closing_minor, b.days, b.year_days, b.minor_units, b.decimals,
           x.annual_rate AS top_rate,
           CASE WHEN b.rate_kind = 'banded'
                THEN x.banded_below + (b.base_minor - x.from_minor) * x.annual_rate
                ELSE b.base_minor * x.annual_rate END AS yearly_minor
      FROM based b
      JOIN deposit_interest_tiers x  -- the one tier the base reaches
        ON x.product_id = b.product_id AND x.product_version = b.product_version
       AND x.from_minor <= b.base_minor
       AND (x.upto_minor IS NULL OR b.base_minor < x.upto_minor)
),
inserted AS (
    INSERT INTO deposit_interest_accruals
        (account_id, business_date, closing_balance_minor, annual_rate, accrued)
    SELECT account_id, :day, closing_minor, top_rate,
           round(nexum_divide_half_even(
                     yearly_minor * days * power(10::numeric, decimals),
                     year_days * power(10::numeric, minor_units))
                 * power(10::numeric, -decimals), decimals)
      FROM rated
    ON CONFLICT DO NOTHING
    RETURNING account_id, accrued
)
INSERT INTO deposit_interest_state
    (account_id, accrued, residue, credited_minor, last_accrual_date)
SELECT account_id, accrued, 0, 0, :day FROM inserted
ON CONFLICT (account_id) DO UPDATE
   SET accrued = deposit_interest_state.accrued + EXCLUDED.accrued,
       last_accrual_date = EXCLUDED.last_accrual_date
"""

# SQLite: the domain computes each accrual (interest_functions); then the state takes the
# accruals this transaction inserted (those of D on accounts whose state is before D).
_ACCRUE_SQLITE = f"""
INSERT INTO deposit_interest_accruals
    (account_id, business_date, closing_balance_minor, annual_rate, accrued)
SELECT account_id, :day, closing_minor,
       nexum_tier_rate(base, rate_kind, tiers),
       nexum_daily_accrual(base, currency, rate_kind, tiers, day_count, :day, :precision)
  FROM (
    SELECT closing.*,
           nexum_accrual_base(closing_minor, credited_minor, unposted, compounding, currency)
               AS base
      FROM (
        SELECT a.id AS account_id, a.currency, t.rate_kind, t.day_count, t.compounding,
               {_CLOSING_BALANCE} AS closing_minor,
               COALESCE(s.credited_minor, 0) AS credited_minor,
               COALESCE(s.accrued, '0') AS unposted,
               (SELECT group_concat(x.from_minor || ':' || x.annual_rate, ';')
                  FROM deposit_interest_tiers x
                 WHERE x.product_id = a.product_id AND x.product_version = a.product_version)
                   AS tiers
        {_accruing_accounts()}
      ) closing
     WHERE {_HAS_CLOSING_BALANCE}
  ) based
 WHERE true
ON CONFLICT DO NOTHING
"""

_ACCRUE_SQLITE_STATE = """
INSERT INTO deposit_interest_state
    (account_id, accrued, residue, credited_minor, last_accrual_date)
SELECT x.account_id, x.accrued, '0', 0, :day
  FROM deposit_interest_accruals x
  LEFT JOIN deposit_interest_state s ON s.account_id = x.account_id
 WHERE x.business_date = :day AND x.account_id > :after AND x.account_id <= :upto
   AND (s.last_accrual_date IS NULL OR s.last_accrual_date < :day)
ON CONFLICT (account_id) DO UPDATE
   SET accrued = nexum_decimal_add(accrued, excluded.accrued),
       last_accrual_date = excluded.last_accrual_date
"""


def open_account_count(kinds: str) -> str:
    """How many open accounts of ``kinds`` (an SQL list of account kinds) have a product:
    what the accrual (deposit and term deposit accounts) and the fee steps (deposit
    accounts) go through."""
    return f"""
SELECT COUNT(*) FROM accounts a
 WHERE a.kind IN {kinds} AND a.product_id IS NOT NULL AND a.status <> 'closed'
"""


def next_open_account_bound(kinds: str) -> str:
    """Where the next chunk of those accounts by id ends."""
    return f"""
SELECT id AS bound FROM (
    SELECT a.id FROM accounts a
     WHERE a.id > :after AND a.kind IN {kinds} AND a.product_id IS NOT NULL
       AND a.status <> 'closed'
     ORDER BY a.id LIMIT :chunk) chunk
 ORDER BY id DESC LIMIT 1
"""


# --- posting --------------------------------------------------------------------------------


def _due_where(due: str) -> str:
    """FROM and WHERE of the accounts whose interest is posted now: those of the chunk
    meeting ``due`` and not yet posted on the day."""
    return f"""
      FROM deposit_interest_state s
      JOIN accounts a ON a.id = s.account_id
      JOIN deposit_interest_terms t
        ON t.product_id = a.product_id AND t.product_version = a.product_version
      JOIN accounts g ON g.kind = 'gl' AND g.code = :expense_code AND g.currency = a.currency
     WHERE s.account_id > :after AND s.account_id <= :upto
       AND a.status <> 'closed'
       AND {due}
       AND (s.last_posting_date IS NULL OR s.last_posting_date < :day)
"""


# Due by the calendar: the product's posting frequency ends a period on the day.
_BY_FREQUENCY = "t.posting_frequency IN :frequencies"
# Due by maturity: a term deposit whose term ends with the day (docs/term-deposits.md),
# whatever its frequency (what accrued since its last posting).
_AT_MATURITY = f"s.account_id IN (SELECT td.account_id FROM term_deposits td WHERE {MATURING})"


def _lock_state_postgres(due: str) -> str:
    return f"SELECT s.account_id {_due_where(due)} ORDER BY s.account_id FOR UPDATE OF s"


_CREATE_DUE_POSTGRES = """
CREATE TEMP TABLE interest_due (
    account_id uuid PRIMARY KEY, currency varchar(3), gl_account_id uuid, entry_id uuid,
    amount_minor bigint, residue numeric
) ON COMMIT DROP
"""

_DUE_POSTGRES = """
INSERT INTO interest_due (account_id, currency, gl_account_id, entry_id, amount_minor, residue)
SELECT s.account_id, a.currency, g.id AS gl_account_id, nexum_uuid7() AS entry_id,
       trunc((s.accrued + s.residue) * power(10::numeric, t.minor_units))::bigint
           AS amount_minor,
       round((s.accrued + s.residue)
             - trunc((s.accrued + s.residue) * power(10::numeric, t.minor_units))
               * power(10::numeric, -t.minor_units),
             scale(s.accrued + s.residue)) AS residue  -- exact: kept at the accruals' scale
"""

_CREATE_DUE_SQLITE = """
CREATE TEMP TABLE interest_due (
    account_id PRIMARY KEY, currency, gl_account_id, entry_id, amount_minor, residue
)
"""

_DUE_SQLITE = """
INSERT INTO interest_due (account_id, currency, gl_account_id, entry_id, amount_minor, residue)
SELECT s.account_id, a.currency, g.id AS gl_account_id, nexum_uuid7() AS entry_id,
       nexum_posted_minor(s.accrued, s.residue, a.currency) AS amount_minor,
       nexum_posted_residue(s.accrued, s.residue, a.currency) AS residue
"""


# Every account an entry touches, locked in id order: the order nexum_post_entry locks in,
# so the posting run and live postings never deadlock.
def lock_due_accounts_postgres(due: str) -> str:
    """Lock every account the entries of ``due`` touch, in id order: the order
    nexum_post_entry locks in, so a posting run and live postings never deadlock."""
    return f"""
SELECT a.id FROM accounts a
 WHERE a.id IN (SELECT account_id FROM {due} WHERE amount_minor > 0
                UNION SELECT gl_account_id FROM {due} WHERE amount_minor > 0)
 ORDER BY a.id FOR UPDATE
"""


def _latest(dialect: str, column: str) -> str:
    """The later of the run's clock reading and ``column`` (a posting time never goes back)."""
    if dialect == "postgresql":
        return f"GREATEST(:now, {column})"
    return f"MAX(:now, COALESCE({column}, :now))"


def _side(dialect: str, side: str) -> str:
    return f"CAST('{side}' AS entry_side)" if dialect == "postgresql" else f"'{side}'"


def entry_statements(
    dialect: str,
    due: str,
    customer_side: str,
    *,
    reference: str = ":reference",
    metadata: str | None = None,
) -> list[str]:
    """One balanced entry for each row of the temporary table ``due`` with a positive
    ``amount_minor`` (its columns: account_id, currency, gl_account_id, entry_id,
    amount_minor): the entries, their two lines, then both accounts' balances, positions
    and times, computed exactly as the posting engine does (the other account's by a running
    window, as several rows may share it). ``customer_side`` is the customer account's side,
    "C" (interest paid: the GL account, an expense, is debited) or "D" (a fee: the GL
    account, an income, is credited; a term deposit paid out: the "GL" column names the
    deposit account credited). The debit is line 1. The other account grows on its side (an
    expense debited, an income or a deposit credited); the customer account, a liability,
    grows on a credit and shrinks on a debit. ``reference`` and ``metadata`` are SQL
    expressions over the due row ``d`` when an entry's own figures belong in them: by
    default every entry has the ``:reference`` parameter and no metadata."""
    if customer_side not in ("C", "D"):
        raise ValueError("the customer side is C or D")
    gl_side = "D" if customer_side == "C" else "C"
    customer_sign = "+" if customer_side == "C" else "-"
    gl_line, customer_line = (1, 2) if customer_side == "C" else (2, 1)
    latest_a, latest_g = _latest(dialect, "a.last_posted_at"), _latest(dialect, "g.last_posted_at")
    entry_time = (
        "GREATEST(:now, a.last_posted_at, g.last_posted_at)"
        if dialect == "postgresql"
        else f"MAX({latest_a}, {latest_g})"
    )
    if metadata is None:
        metadata = "CAST('{}' AS jsonb)" if dialect == "postgresql" else "'{}'"
    return [
        f"""
INSERT INTO journal_entries
    (id, entry_type, business_date, value_date, posted_at, actor, channel, reference,
     metadata, request_id, reversal_of)
SELECT d.entry_id, :entry_type, :day, :day, {entry_time}, :actor, :channel, {reference},
       {metadata}, NULL, NULL
  FROM {due} d
  JOIN accounts a ON a.id = d.account_id
  JOIN accounts g ON g.id = d.gl_account_id
 WHERE d.amount_minor > 0
""",
        f"""
INSERT INTO journal_lines
    (entry_id, line_no, account_id, account_seq, side, amount_minor, currency,
     balance_after_minor, posted_at)
SELECT d.entry_id, {gl_line}, g.id, g.line_seq + ROW_NUMBER() OVER w, {_side(dialect, gl_side)},
       d.amount_minor, d.currency, g.posted_minor + SUM(d.amount_minor) OVER w, {latest_g}
  FROM {due} d
  JOIN accounts g ON g.id = d.gl_account_id
 WHERE d.amount_minor > 0
WINDOW w AS (PARTITION BY d.gl_account_id ORDER BY d.account_id
             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
""",
        f"""
INSERT INTO journal_lines
    (entry_id, line_no, account_id, account_seq, side, amount_minor, currency,
     balance_after_minor, posted_at)
SELECT d.entry_id, {customer_line}, a.id, a.line_seq + 1, {_side(dialect, customer_side)},
       d.amount_minor, d.currency, a.posted_minor {customer_sign} d.amount_minor, {latest_a}
  FROM {due} d
  JOIN accounts a ON a.id = d.account_id
 WHERE d.amount_minor > 0
""",
        f"""
UPDATE accounts AS a
   SET posted_minor = a.posted_minor {customer_sign} d.amount_minor,
       line_seq = a.line_seq + 1,
       last_posted_at = {latest_a},
       updated_at = {latest_a}
  FROM {due} d
 WHERE d.account_id = a.id AND d.amount_minor > 0
""",
        f"""
UPDATE accounts AS g
   SET posted_minor = g.posted_minor + totals.amount_minor,
       line_seq = g.line_seq + totals.lines,
       last_posted_at = {latest_g},
       updated_at = {latest_g}
  FROM (SELECT gl_account_id, SUM(amount_minor) AS amount_minor, COUNT(*) AS lines
          FROM {due} WHERE amount_minor > 0 GROUP BY gl_account_id) totals
 WHERE g.id = totals.gl_account_id
""",
    ]


def _posting_statements(dialect: str) -> list[str]:
    """Interest entries (interest expense debited, the account credited), then the state."""
    return [
        *entry_statements(dialect, "interest_due", "C"),
        f"""
UPDATE deposit_interest_state AS s
   SET accrued = {"0" if dialect == "postgresql" else "'0'"},
       residue = d.residue,
       credited_minor = s.credited_minor + d.amount_minor,
       last_posting_date = :day
  FROM interest_due d
 WHERE d.account_id = s.account_id
""",
    ]


def due_totals(due: str) -> str:
    """Entries and amount per currency of the positive rows of ``due``."""
    return f"""
SELECT currency, COUNT(*) AS entries, SUM(amount_minor) AS amount_minor
  FROM {due} WHERE amount_minor > 0 GROUP BY currency ORDER BY currency
"""


def _unbalanced_sqlite(due: str) -> str:
    return f"""
SELECT l.entry_id FROM journal_lines l
 WHERE l.entry_id IN (SELECT entry_id FROM {due} WHERE amount_minor > 0)
 GROUP BY l.entry_id, l.currency
HAVING COUNT(*) < 2 OR SUM(CASE WHEN l.side = 'D' THEN l.amount_minor
                                ELSE -l.amount_minor END) <> 0
 LIMIT 1
"""


def _posted_lines_sqlite(due: str) -> str:
    """The customers' lines of the entries of ``due``: those of every account but the
    bank's own, as PostgreSQL's outbox trigger picks them."""
    return f"""
SELECT l.account_id, l.account_seq FROM journal_lines l JOIN accounts a ON a.id = l.account_id
 WHERE l.entry_id IN (SELECT entry_id FROM {due} WHERE amount_minor > 0) AND a.kind <> 'gl'
"""


async def finish_sqlite_chunk(uow: SqlUnitOfWork, now: datetime, due: str, what: str) -> None:
    """SQLite has no deferred constraint: check the entries of ``due`` balance here (``what``
    names them in the error); announce the customers' lines in the outbox (PostgreSQL's
    triggers do both); drop ``due``."""
    conn = uow.connection
    unbalanced = await conn.scalar(text(_unbalanced_sqlite(due)))
    if unbalanced is not None:
        raise UnbalancedEntry(f"{what} does not balance", entry_id=unbalanced)
    if uow.outbox.enabled:
        lines = (await conn.execute(typed(_posted_lines_sqlite(due)))).all()
        await uow.outbox.announce_lines(
            ((UUID(hex=str(row.account_id)), int(row.account_seq)) for row in lines), now
        )
    await conn.execute(text(f"DROP TABLE temp.{due}"))


_POSTING_COUNT = """
SELECT COUNT(*) FROM deposit_interest_state s JOIN accounts a ON a.id = s.account_id
 WHERE a.status <> 'closed'
"""

_NEXT_POSTING_BOUND = """
SELECT account_id AS bound FROM (
    SELECT s.account_id FROM deposit_interest_state s
     WHERE s.account_id > :after ORDER BY s.account_id LIMIT :chunk) chunk
 ORDER BY account_id DESC LIMIT 1
"""


def typed(statement: str, *extra: BindParameter[Any]) -> TextClause:
    """``statement`` with the parameters every interest statement shares typed, so each
    database gets dates, times and ids in its own storage format."""
    names: dict[str, TypeEngine[Any]] = {
        "day": Date(),
        "month": Date(),
        "maturing_by": Date(),
        "now": UTCDateTime(),
        "after": Uuid(),
        "upto": Uuid(),
    }
    clause = text(statement)
    present = [
        bindparam(name, type_=kind) for name, kind in names.items() if f":{name}" in statement
    ]
    return clause.bindparams(*present, *extra)


def _bound(statement: str) -> TextClause:
    """A chunk's last account id, read back as a UUID on either database."""
    return typed(statement).columns(bound=Uuid())  # type: ignore[return-value]


class SqlDepositInterest:
    """The deposit interest book on either database (implements ``ports.DepositInterestBook``)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _dialect(self) -> str:
        return self._storage.engine.dialect.name

    # --- terms ------------------------------------------------------------------------------

    async def derive_terms(self) -> int:
        """Write the interest terms of every deposit product version not derived yet."""

        async def derive(uow: UnitOfWork) -> int:
            conn = _connection(uow)
            fresh = await deposit_products_not_in(conn, deposit_interest_terms)
            for product in fresh:
                await _insert_terms(conn, product)
            return len(fresh)

        return await self._storage.atomically(derive)

    # --- accrual ----------------------------------------------------------------------------

    async def accrue(
        self,
        business_date: date,
        days: Mapping[DayCount, int],
        precision: int,
        report: ProgressReport,
    ) -> int:
        """Accrue ``business_date`` on every due account; returns the accruals written.
        ``days`` is each day count's days for the date (its fraction is days / days in
        the year)."""
        await self.derive_terms()
        parameters: dict[str, Any] = {
            "day": business_date,
            "precision": precision,
        }
        statements = self._accrual_statements(days, parameters)
        return await in_chunks(
            self._storage,
            open_account_count(DEPOSIT_KINDS),
            next_open_account_bound(DEPOSIT_KINDS),
            ACCRUAL_CHUNK,
            functools.partial(_run_accrual, statements, parameters),
            report,
        )

    def _accrual_statements(
        self, days: Mapping[DayCount, int], parameters: dict[str, Any]
    ) -> list[TextClause]:
        if self._dialect == "postgresql":
            rows = []
            for index, (day_count, count) in enumerate(sorted(days.items())):
                rows.append(
                    f"(CAST(:day_count_{index} AS varchar), CAST(:days_{index} AS integer),"
                    f" CAST(:year_days_{index} AS integer))"
                )
                parameters[f"day_count_{index}"] = day_count.value
                parameters[f"days_{index}"] = count
                parameters[f"year_days_{index}"] = day_count.days_in_year
            return [typed(_ACCRUE_POSTGRES.replace("{fractions}", ", ".join(rows)))]
        return [typed(_ACCRUE_SQLITE), typed(_ACCRUE_SQLITE_STATE)]

    # --- posting ----------------------------------------------------------------------------

    async def post_due(
        self,
        business_date: date,
        frequencies: Collection[InterestPostingFrequency],
        report: ProgressReport,
    ) -> int:
        """Post accrued interest of every account whose posting is due on ``business_date``
        under ``frequencies``; returns the accounts settled (zero amounts included)."""
        if not frequencies:
            return 0
        return await self._post(
            business_date,
            _BY_FREQUENCY,
            {"frequencies": sorted(frequency.value for frequency in frequencies)},
            f"interest to {business_date.isoformat()}",
            report,
        )

    async def post_maturing(self, business_date: date, report: ProgressReport) -> int:
        """Post what has accrued on every term deposit whose term ends with
        ``business_date``; returns the accounts settled (zero amounts included)."""
        return await self._post(
            business_date,
            _AT_MATURITY,
            {"maturing_by": business_date + timedelta(days=1)},
            f"interest at maturity {business_date.isoformat()}",
            report,
        )

    async def _post(
        self,
        business_date: date,
        due: str,
        due_parameters: dict[str, Any],
        reference: str,
        report: ProgressReport,
    ) -> int:
        """Post the accrued interest of every account meeting ``due`` (a condition on the
        state ``s``, the account ``a`` and its terms ``t``), chunk by chunk."""
        await self.derive_terms()
        parameters: dict[str, Any] = {
            "day": business_date,
            "expense_code": GLCode.INTEREST_EXPENSE.value,
            "entry_type": EntryType.INTEREST_POSTING.value,
            "actor": ACTOR,
            "channel": Channel.SYSTEM.value,
            "reference": reference,
            **due_parameters,
        }
        return await in_chunks(
            self._storage,
            _POSTING_COUNT,
            _NEXT_POSTING_BOUND,
            POSTING_CHUNK,
            functools.partial(self._post_chunk, due, parameters),
            report,
        )

    async def _post_chunk(
        self, due: str, parameters: dict[str, Any], uow: UnitOfWork, bounds: dict[str, Any]
    ) -> int:
        parameters = {**parameters, **bounds}
        sql_uow = cast(SqlUnitOfWork, uow)
        conn = sql_uow.connection
        dialect = self._dialect
        where = _due_where(due)
        extra = (
            [bindparam("frequencies", type_=String(), expanding=True)]
            if "frequencies" in parameters
            else []
        )
        if dialect == "postgresql":
            await conn.execute(typed(_lock_state_postgres(due), *extra), parameters)
            parameters["now"] = await conn.scalar(text("SELECT clock_timestamp()"))
            await conn.execute(text(_CREATE_DUE_POSTGRES))
            await conn.execute(typed(_DUE_POSTGRES + where, *extra), parameters)
            await conn.execute(text(lock_due_accounts_postgres("interest_due")))
        else:
            parameters["now"] = datetime.now(UTC)
            await conn.execute(text(_CREATE_DUE_SQLITE))
            await conn.execute(typed(_DUE_SQLITE + where, *extra), parameters)
        settled = int(await conn.scalar(text("SELECT COUNT(*) FROM interest_due")) or 0)
        totals = (await conn.execute(text(due_totals("interest_due")))).all()
        for statement in _posting_statements(dialect):
            await conn.execute(typed(statement), parameters)
        if dialect != "postgresql":
            await finish_sqlite_chunk(
                sql_uow, parameters["now"], "interest_due", "an interest posting"
            )
        if totals:
            await sql_uow.audit.append(
                AuditRecord(
                    occurred_at=parameters["now"],
                    actor=ACTOR,
                    action="interest.posted",
                    entity_type="business_date",
                    entity_id=parameters["day"].isoformat(),
                    details={
                        "reference": parameters["reference"],
                        "from_account": str(parameters["after"]),
                        "to_account": str(parameters["upto"]),
                        "entries": {row.currency: int(row.entries) for row in totals},
                        "amount_minor": {row.currency: int(row.amount_minor) for row in totals},
                    },
                )
            )
        return settled

    # --- reading ----------------------------------------------------------------------------

    async def position(self, account_id: UUID) -> InterestPosition | None:
        """The account's interest state, None when it has no product (earns no interest)."""

        async def read(uow: UnitOfWork) -> InterestPosition | None:
            state = deposit_interest_state
            row = (
                await _connection(uow).execute(
                    select(
                        accounts.c.product_id,
                        accounts.c.product_version,
                        state.c.accrued,
                        state.c.residue,
                        state.c.credited_minor,
                        state.c.last_accrual_date,
                        state.c.last_posting_date,
                    )
                    .select_from(accounts.outerjoin(state, state.c.account_id == accounts.c.id))
                    .where(accounts.c.id == account_id, accounts.c.product_id.is_not(None))
                )
            ).first()
            if row is None:
                return None
            zero = Decimal(0)
            return InterestPosition(
                account_id=account_id,
                product_id=row.product_id,
                product_version=row.product_version,
                accrued=zero if row.accrued is None else Decimal(row.accrued),
                residue=zero if row.residue is None else Decimal(row.residue),
                credited_minor=row.credited_minor or 0,
                last_accrual_date=row.last_accrual_date,
                last_posting_date=row.last_posting_date,
            )

        return await self._storage.read(read)


async def in_chunks(
    storage: Storage,
    count: str,
    next_bound: str,
    chunk: int,
    work: Callable[[UnitOfWork, dict[str, Any]], Awaitable[int]],
    report: ProgressReport,
    parameters: Mapping[str, Any] | None = None,
) -> int:
    """Run ``work`` over consecutive ranges of ``chunk`` account ids (``next_bound``
    finds where each ends), each range in a transaction of its own; report progress
    against ``count``, in accounts. ``parameters``: more that ``count`` and ``next_bound``
    name. Returns the sum of what ``work`` did."""

    async def scalar(statement: TextClause, parameters: dict[str, Any]) -> Any:
        async def read(uow: UnitOfWork) -> Any:
            return await _connection(uow).scalar(statement, parameters)

        return await storage.read(read)

    given = dict(parameters or {})
    total = int(await scalar(typed(count), given) or 0)
    scanned = done = 0
    after = _BEFORE_ALL_IDS
    while True:
        upto = await scalar(_bound(next_bound), {**given, "after": after, "chunk": chunk})
        if upto is None:
            return done
        done += await storage.atomically(_over_range(work, {"after": after, "upto": upto}))
        scanned = min(total, scanned + chunk)
        report(scanned, total)
        after = upto


def _over_range(
    work: Callable[[UnitOfWork, dict[str, Any]], Awaitable[int]], bounds: dict[str, Any]
) -> Callable[[UnitOfWork], Awaitable[int]]:
    async def in_range(uow: UnitOfWork) -> int:
        return await work(uow, bounds)

    return in_range


async def deposit_products_not_in(conn: AsyncConnection, terms: Table) -> list[DepositProduct]:
    """The deposit product versions that ``terms`` (keyed by product_id, product_version)
    has no row for yet: new versions, a handful at a time, never the accounts."""
    rows = (
        await conn.execute(
            select(products)
            .outerjoin(
                terms,
                (terms.c.product_id == products.c.product_id)
                & (terms.c.product_version == products.c.version),
            )
            .where(products.c.kind == ProductKind.DEPOSIT.value, terms.c.product_id.is_(None))
        )
    ).all()
    return [cast(DepositProduct, product_from_row(row._mapping)) for row in rows]


def _connection(uow: UnitOfWork) -> AsyncConnection:
    return cast(SqlUnitOfWork, uow).connection


async def _run_accrual(
    statements: list[TextClause],
    parameters: dict[str, Any],
    uow: UnitOfWork,
    bounds: dict[str, Any],
) -> int:
    """Run the accrual ``statements`` in order over one range; the accruals written (the
    rows the first statement wrote)."""
    written = 0
    for index, statement in enumerate(statements):
        result = await _connection(uow).execute(statement, {**parameters, **bounds})
        if index == 0:
            written = result.rowcount
    return written


async def _insert_terms(conn: AsyncConnection, product: DepositProduct) -> None:
    rate = product.rate
    if isinstance(rate, FixedRate):
        rate_kind, tiers = "fixed", [(0, rate.annual_rate)]
    else:
        rate_kind = rate.method.value
        tiers = [(tier.from_minor, tier.annual_rate) for tier in rate.tiers]
    await conn.execute(
        deposit_interest_terms.insert().values(
            product_id=product.product_id,
            product_version=product.version,
            currency=product.currency.code,
            minor_units=product.currency.minor_units,
            rate_kind=rate_kind,
            day_count=product.day_count.value,
            compounding=product.compounding.value,
            posting_frequency=product.posting_frequency.value,
        )
    )
    uptos = [from_minor for from_minor, _ in tiers[1:]] + [None]
    banded = TieredRate(tuple(RateTier(*tier) for tier in tiers), TierMethod.BANDED)
    await conn.execute(
        deposit_interest_tiers.insert(),
        [
            {
                "product_id": product.product_id,
                "product_version": product.version,
                "tier_no": number,
                "from_minor": from_minor,
                "upto_minor": upto,
                "annual_rate": annual_rate,
                "banded_below": exact_decimal(banded.yearly_interest(Fraction(from_minor))),
            }
            for number, ((from_minor, annual_rate), upto) in enumerate(
                zip(tiers, uptos, strict=True), start=1
            )
        ],
    )
