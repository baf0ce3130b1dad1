"""`verify_ledger` and the database's own guards, on SQLite and on PostgreSQL.

Verification: a fresh ledger and a busy one (deposits, transfers, a withdrawal, holds, a
capture, a reversal) verify clean; then each test tampers with a database of its own in one
way and checks that verify reports exactly the checks that tampering must break, with the
exact detail, and no other.

Tampering with the append-only tables means getting past their guards first: on PostgreSQL
``SET LOCAL session_replication_role = replica`` in the tampering transaction (ordinary and
constraint triggers do not fire; the tests connect as a superuser), on SQLite dropping the
guarding trigger.

Guards: UPDATE and DELETE on journal_entries, journal_lines and audit_events are refused on
both backends, TRUNCATE too on PostgreSQL; on PostgreSQL a journal entry written directly
with SQL must balance per currency with two or more lines, checked at COMMIT by a deferred
constraint trigger.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Executable, Row, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from conftest import settings_for
from core_banking.bootstrap import Nexum, build
from core_banking.domain.accounts import Account
from core_banking.domain.chart import CHART, GLCode, gl_account_id
from core_banking.domain.commands import (
    CaptureHold,
    Deposit,
    PlaceHold,
    Reverse,
    Transfer,
    Withdraw,
)
from core_banking.domain.holds import Hold
from core_banking.domain.money import all_currencies
from core_banking.storage import Storage, create_storage
from core_banking.storage.schema import (
    accounts,
    audit_chain_heads,
    audit_events,
    journal_entries,
    journal_lines,
)
from core_banking.storage.verification import (
    CHECK_NAMES,
    VerificationReport,
    verify_ledger,
)
from support.banking import CONTEXT, FakeClock, funded_account, key, money
from support.databases import REVISIONS, migrate

CASH_USD = gl_account_id(GLCode.CASH, "USD")
FEE_INCOME_USD = gl_account_id(GLCode.FEE_INCOME, "USD")
FEE_INCOME_EUR = gl_account_id(GLCode.FEE_INCOME, "EUR")
GL_ACCOUNTS = len(CHART) * len(all_currencies())
APPEND_ONLY_TABLES = ("journal_entries", "journal_lines", "audit_events")


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def own_url(backend: str, request: pytest.FixtureRequest) -> str:
    """A freshly migrated database of this test's own (the ``backend`` fixture parametrizes
    over sqlite and postgresql and marks the latter)."""
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    )
    assert migrate(url) == list(REVISIONS)
    return url


@pytest.fixture
async def own_storage(own_url: str) -> AsyncIterator[Storage]:
    storage = create_storage(own_url)
    yield storage
    await storage.dispose()


@pytest.fixture
def own_bank(own_storage: Storage) -> Nexum:
    return build(settings_for(own_storage.database_url), storage=own_storage, clock=FakeClock())


@pytest.fixture
async def own_pg_storage(tmp_postgres_url: str) -> AsyncIterator[Storage]:
    """PostgreSQL only: the storage of a freshly migrated database of this test's own."""
    migrate(tmp_postgres_url)
    storage = create_storage(tmp_postgres_url)
    yield storage
    await storage.dispose()


# --- helpers --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BusyLedger:
    alice: Account  # USD; paid a transfer, has an active hold
    bob: Account  # USD; received the transfer, a deposit that was reversed, a captured hold
    euro: Account  # EUR; a deposit and a withdrawal
    active_hold: Hold
    entries: int


async def busy_ledger(bank: Nexum) -> BusyLedger:
    alice = await funded_account(bank, "1000.00")
    bob = await funded_account(bank, "50.00")
    euro = await funded_account(bank, "300.00", "EUR")
    await bank.ledger.transfer(Transfer(alice.id, bob.id, money("125.50"), key()), CONTEXT)
    mistaken = await bank.ledger.deposit(Deposit(bob.id, money("10.00"), key()), CONTEXT)
    await bank.ledger.reverse(Reverse(mistaken.entry.id, "entered twice", key()), CONTEXT)
    active = await bank.holds.place(PlaceHold(alice.id, money("200.00"), key()), CONTEXT)
    captured = await bank.holds.place(PlaceHold(bob.id, money("40.00"), key()), CONTEXT)
    await bank.holds.capture(CaptureHold(captured.id, key(), amount=money("30.00")), CONTEXT)
    await bank.ledger.withdraw(Withdraw(euro.id, money("20.00", "EUR"), key()), CONTEXT)

    alice = await bank.accounts.get(alice.id)
    bob = await bank.accounts.get(bob.id)
    euro = await bank.accounts.get(euro.id)
    # The ledger really is in the state the tampering tests rely on.
    assert (alice.posted_minor, alice.held_minor) == (100000 - 12550, 20000)
    assert (bob.posted_minor, bob.held_minor) == (5000 + 12550 - 3000, 0)
    assert (euro.posted_minor, euro.held_minor) == (28000, 0)
    return BusyLedger(alice, bob, euro, active, entries=8)


def shown(storage: Storage, entity_id: UUID) -> str:
    """An id as verify's raw SQL reads it back: a uuid on PostgreSQL, 32 hex digits in the
    CHAR(32) column SQLAlchemy's Uuid type uses on SQLite."""
    return str(entity_id) if storage.backend == "postgresql" else entity_id.hex


def violations(report: VerificationReport) -> dict[str, str]:
    return {violation.check: violation.detail for violation in report.violations}


async def verify_clean(storage: Storage) -> VerificationReport:
    report = await verify_ledger(storage)
    assert violations(report) == {}
    assert report.ok
    assert report.checks == list(CHECK_NAMES)
    return report


@asynccontextmanager
async def bypassing_guards(
    storage: Storage, *sqlite_triggers: str
) -> AsyncIterator[AsyncConnection]:
    """A transaction in which the append-only guards do not stop us."""
    async with storage.engine.begin() as conn:
        if storage.backend == "postgresql":
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for trigger in sqlite_triggers:
                await conn.execute(text(f"DROP TRIGGER {trigger}"))
        yield conn


async def scalar(storage: Storage, statement: Executable) -> Any:
    async with storage.engine.connect() as conn:
        return (await conn.execute(statement)).scalar_one()


async def account_row(conn: AsyncConnection, account_id: UUID) -> Row[Any]:
    query = select(accounts.c.account_type, accounts.c.posted_minor, accounts.c.line_seq).where(
        accounts.c.id == account_id
    )
    return (await conn.execute(query)).one()


Line = tuple[UUID, str, int, str]  # account, side, amount_minor, currency


async def insert_entry(
    conn: AsyncConnection, lines: Sequence[Line], *, post_to_accounts: bool
) -> UUID:
    """Write a journal entry and its lines with plain SQL, each line with the next position
    in its account's history and the right balance after it. With ``post_to_accounts`` the
    account rows are updated too, as the posting engine would; without, they are untouched."""
    entry_id = uuid4()
    now = datetime.now(UTC)
    await conn.execute(
        insert(journal_entries).values(
            id=entry_id,
            entry_type="deposit",
            business_date=date.today(),
            value_date=date.today(),
            posted_at=now,
            actor="tamper:test",
            metadata={},
        )
    )
    for line_no, (account_id, side, amount, currency) in enumerate(lines, start=1):
        account = await account_row(conn, account_id)
        normal = "D" if account.account_type in ("asset", "expense") else "C"
        balance_after = account.posted_minor + (amount if side == normal else -amount)
        seq = account.line_seq + 1
        await conn.execute(
            insert(journal_lines).values(
                entry_id=entry_id,
                line_no=line_no,
                account_id=account_id,
                account_seq=seq,
                side=side,
                amount_minor=amount,
                currency=currency,
                balance_after_minor=balance_after,
                posted_at=now,
            )
        )
        if post_to_accounts:
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .values(posted_minor=balance_after, line_seq=seq)
            )
    return entry_id


# --- verify: clean ledgers ------------------------------------------------------------------


async def test_a_fresh_ledger_verifies_clean(own_storage):
    report = await verify_clean(own_storage)
    assert report.counts == {
        "accounts": GL_ACCOUNTS,
        "entries": 0,
        "lines": 0,
        "audit_records": 0,
    }


async def test_a_busy_ledger_verifies_clean(own_bank):
    ledger = await busy_ledger(own_bank)
    report = await verify_clean(own_bank.storage)
    assert report.counts["accounts"] == GL_ACCOUNTS + 3
    assert report.counts["entries"] == ledger.entries
    assert report.counts["lines"] == 2 * ledger.entries
    # customers, accounts, holds and postings are all audited
    assert report.counts["audit_records"] >= ledger.entries + 3 + 3 + 2


# --- verify: tampering ----------------------------------------------------------------------

Tamper = Callable[[Storage, BusyLedger], Awaitable[dict[str, str]]]


async def changed_posted_balance(storage: Storage, ledger: BusyLedger) -> dict[str, str]:
    alice = ledger.alice
    async with storage.engine.begin() as conn:
        await conn.execute(
            update(accounts)
            .where(accounts.c.id == alice.id)
            .values(posted_minor=accounts.c.posted_minor + 500)
        )
    # Alice's account is a liability: 500 more on it leaves USD short by 500 on the asset side.
    return {
        "currency_totals": "account balances in USD do not sum to zero (net -500)",
        "stored_balances": (
            f"account {shown(storage, alice.id)} stores {alice.posted_minor + 500}"
            f" but its lines sum to {alice.posted_minor}"
        ),
    }


async def changed_held_amount(storage: Storage, ledger: BusyLedger) -> dict[str, str]:
    alice = ledger.alice
    async with storage.engine.begin() as conn:
        await conn.execute(
            update(accounts)
            .where(accounts.c.id == alice.id)
            .values(held_minor=accounts.c.held_minor + 1)
        )
    return {
        "held_totals": (
            f"account {shown(storage, alice.id)} holds {alice.held_minor + 1}"
            f" but its active holds sum to {ledger.active_hold.amount_minor}"
        ),
    }


async def changed_balance_after(storage: Storage, ledger: BusyLedger) -> dict[str, str]:
    bob = ledger.bob
    async with bypassing_guards(storage, "trg_journal_lines_no_update") as conn:
        changed = await conn.execute(
            update(journal_lines)
            .where(journal_lines.c.account_id == bob.id, journal_lines.c.account_seq == 1)
            .values(balance_after_minor=journal_lines.c.balance_after_minor + 1)
        )
        assert changed.rowcount == 1
    return {
        "balance_chains": f"the balance chain of account {shown(storage, bob.id)} breaks at line 1"
    }


async def changed_audit_payload(storage: Storage, ledger: BusyLedger) -> dict[str, str]:
    async with bypassing_guards(storage, "trg_audit_events_no_update") as conn:
        record = (
            await conn.execute(
                select(audit_events.c.shard, audit_events.c.seq, audit_events.c.payload)
                .order_by(audit_events.c.shard.desc(), audit_events.c.seq)
                .limit(1)
            )
        ).one()
        forged = record.payload.replace("teller:test", "teller:mallory")
        assert forged != record.payload
        await conn.execute(
            update(audit_events)
            .where(audit_events.c.shard == record.shard, audit_events.c.seq == record.seq)
            .values(payload=forged)
        )
    return {"audit_chain": f"audit shard {record.shard}: hash mismatch at seq {record.seq}"}


async def deleted_last_audit_record(storage: Storage, ledger: BusyLedger) -> dict[str, str]:
    async with bypassing_guards(storage, "trg_audit_events_no_delete") as conn:
        head = (
            await conn.execute(
                select(audit_chain_heads.c.shard, audit_chain_heads.c.seq)
                .where(audit_chain_heads.c.seq > 0)
                .order_by(audit_chain_heads.c.seq.desc(), audit_chain_heads.c.shard)
                .limit(1)
            )
        ).one()
        deleted = await conn.execute(
            audit_events.delete().where(
                audit_events.c.shard == head.shard, audit_events.c.seq == head.seq
            )
        )
        assert deleted.rowcount == 1
    return {
        "audit_chain": (
            f"audit shard {head.shard}: head at seq {head.seq} does not match the chain"
        )
    }


async def entry_without_lines(storage: Storage, ledger: BusyLedger) -> dict[str, str]:
    async with bypassing_guards(storage) as conn:
        entry_id = await insert_entry(conn, [], post_to_accounts=False)
    return {"entries_balanced": f"journal entry {shown(storage, entry_id)} does not balance"}


async def single_line_entry(storage: Storage, ledger: BusyLedger) -> dict[str, str]:
    """One debit to USD cash, its account row untouched: the journal no longer balances and
    no longer agrees with the account's stored balance or its last position."""
    async with storage.engine.connect() as conn:
        cash = await account_row(conn, CASH_USD)
    async with bypassing_guards(storage) as conn:
        entry_id = await insert_entry(conn, [(CASH_USD, "D", 10000, "USD")], post_to_accounts=False)
    return {
        "journal_totals": "journal debits and credits in USD differ by 10000",
        "entries_balanced": f"journal entry {shown(storage, entry_id)} does not balance",
        "stored_balances": (
            f"account {shown(storage, CASH_USD)} stores {cash.posted_minor}"
            f" but its lines sum to {cash.posted_minor + 10000}"
        ),
        # the account still says its history ends at line_seq, the journal says one later
        "balance_chains": (
            f"the balance chain of account {shown(storage, CASH_USD)}"
            f" breaks at line {cash.line_seq}"
        ),
    }


async def cross_currency_entry(storage: Storage, ledger: BusyLedger) -> dict[str, str]:
    """Debit USD cash 100.00, credit EUR fee income 100.00, both accounts posted as the
    engine would: the amounts match in total but not per currency. With the stored balances
    agreeing with the lines, the account-side totals fail with the journal-side ones."""
    async with bypassing_guards(storage) as conn:
        entry_id = await insert_entry(
            conn,
            [(CASH_USD, "D", 10000, "USD"), (FEE_INCOME_EUR, "C", 10000, "EUR")],
            post_to_accounts=True,
        )
    return {
        "currency_totals": "account balances in EUR do not sum to zero (net -10000)",
        "journal_totals": "journal debits and credits in EUR differ by -10000",
        "entries_balanced": f"journal entry {shown(storage, entry_id)} does not balance",
    }


async def line_in_a_foreign_currency(storage: Storage, ledger: BusyLedger) -> dict[str, str]:
    """Debit USD cash 100.00 and credit USD fee income 100.00, but write the credit line in
    EUR. The accounts, grouped by their own currency, still net to zero and agree with
    their lines; only the journal-side checks, which group lines by the line's currency,
    can see that this entry does not balance."""
    async with bypassing_guards(storage) as conn:
        entry_id = await insert_entry(
            conn,
            [(CASH_USD, "D", 10000, "USD"), (FEE_INCOME_USD, "C", 10000, "EUR")],
            post_to_accounts=True,
        )
    return {
        "journal_totals": "journal debits and credits in EUR differ by -10000",
        "entries_balanced": f"journal entry {shown(storage, entry_id)} does not balance",
    }


TAMPERINGS: dict[str, Tamper] = {
    "posted_minor": changed_posted_balance,
    "held_minor": changed_held_amount,
    "balance_after_minor": changed_balance_after,
    "audit_payload": changed_audit_payload,
    "audit_tail_deleted": deleted_last_audit_record,
    "entry_without_lines": entry_without_lines,
    "single_line_entry": single_line_entry,
    "cross_currency_entry": cross_currency_entry,
    "line_in_a_foreign_currency": line_in_a_foreign_currency,
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
async def test_verify_names_exactly_the_checks_a_tampering_breaks(own_bank, tampering):
    storage = own_bank.storage
    ledger = await busy_ledger(own_bank)
    await verify_clean(storage)

    expected = await TAMPERINGS[tampering](storage, ledger)

    report = await verify_ledger(storage)
    assert not report.ok
    assert set(violations(report)) == set(expected)  # the right checks, and only those
    assert violations(report) == expected  # each describing exactly what is wrong
    # every check still ran, and violations come in the order the checks run
    assert report.checks == list(CHECK_NAMES)
    order = [violation.check for violation in report.violations]
    assert order == [check for check in CHECK_NAMES if check in expected]


async def test_without_the_bypass_the_same_tampering_is_refused(own_bank):
    """The bypass is needed: the same change without it is refused and leaves no trace."""
    storage = own_bank.storage
    ledger = await busy_ledger(own_bank)
    with pytest.raises(DBAPIError, match="nexum:append_only"):
        async with storage.engine.begin() as conn:
            await conn.execute(
                update(journal_lines)
                .where(journal_lines.c.account_id == ledger.bob.id)
                .values(balance_after_minor=journal_lines.c.balance_after_minor + 1)
            )
    await verify_clean(storage)


# --- database guards ------------------------------------------------------------------------

_CHANGES = {
    "journal_entries": "UPDATE journal_entries SET actor = 'mallory'",
    "journal_lines": "UPDATE journal_lines SET amount_minor = amount_minor + 1",
    "audit_events": "UPDATE audit_events SET payload = payload || ' '",
}


async def _row_count(storage: Storage, table: str) -> int:
    count: int = await scalar(storage, text(f"SELECT COUNT(*) FROM {table}"))
    return count


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
async def test_append_only_tables_refuse_update_and_delete(own_bank, table):
    storage = own_bank.storage
    await funded_account(own_bank, "75.00")  # an entry, its lines and audit records
    before = await _row_count(storage, table)
    assert before > 0  # SQLite's guards are row triggers: they need rows to fire on

    for statement in (_CHANGES[table], f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="nexum:append_only"):
            async with storage.engine.begin() as conn:
                await conn.execute(text(statement))

    assert await _row_count(storage, table) == before
    await verify_clean(storage)


@pytest.mark.postgres
async def test_postgresql_refuses_truncate_of_the_append_only_tables(own_pg_storage):
    storage = own_pg_storage
    bank = build(settings_for(storage.database_url), storage=storage, clock=FakeClock())
    await funded_account(bank, "75.00")
    before = {table: await _row_count(storage, table) for table in APPEND_ONLY_TABLES}
    assert all(before.values())

    for table in APPEND_ONLY_TABLES:
        # CASCADE: without it the foreign keys into journal_entries refuse first
        with pytest.raises(DBAPIError, match="nexum:append_only"):
            async with storage.engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {table} CASCADE"))

    assert {table: await _row_count(storage, table) for table in APPEND_ONLY_TABLES} == before
    await verify_clean(storage)


UNBALANCED_ENTRIES: dict[str, list[Line]] = {
    "one_line": [(CASH_USD, "D", 10000, "USD")],
    "two_lines_that_differ": [(CASH_USD, "D", 10000, "USD"), (FEE_INCOME_USD, "C", 9000, "USD")],
    "two_lines_two_currencies": [
        (CASH_USD, "D", 10000, "USD"),
        (FEE_INCOME_EUR, "C", 10000, "EUR"),
    ],
}


async def _entry_rows(storage: Storage, entry_id: UUID) -> tuple[int, int]:
    entries = await scalar(storage, select(func.count()).where(journal_entries.c.id == entry_id))
    lines = await scalar(storage, select(func.count()).where(journal_lines.c.entry_id == entry_id))
    return entries, lines


async def _entry_rows_in(conn: AsyncConnection, entry_id: UUID) -> tuple[int, int]:
    entries = (
        await conn.execute(select(func.count()).where(journal_entries.c.id == entry_id))
    ).scalar_one()
    lines = (
        await conn.execute(select(func.count()).where(journal_lines.c.entry_id == entry_id))
    ).scalar_one()
    return entries, lines


@pytest.mark.postgres
@pytest.mark.parametrize("shape", list(UNBALANCED_ENTRIES))
async def test_postgresql_refuses_an_unbalanced_entry_at_commit(own_pg_storage, shape):
    storage = own_pg_storage
    async with storage.engine.connect() as conn:
        transaction = await conn.begin()
        # every statement is accepted: the check is deferred to COMMIT
        entry_id = await insert_entry(conn, UNBALANCED_ENTRIES[shape], post_to_accounts=False)
        assert await _entry_rows_in(conn, entry_id) == (1, len(UNBALANCED_ENTRIES[shape]))
        with pytest.raises(DBAPIError, match="nexum:unbalanced_entry"):
            await transaction.commit()

    assert await _entry_rows(storage, entry_id) == (0, 0)
    assert await _row_count(storage, "journal_lines") == 0
    await verify_clean(storage)


@pytest.mark.postgres
async def test_postgresql_refuses_an_unbalanced_line_added_to_a_committed_entry(
    own_pg_storage,
):
    """The trigger checks the whole entry of each new line, not only the lines of the
    transaction: one more line on a balanced entry is refused at commit."""
    storage = own_pg_storage
    async with storage.engine.begin() as conn:
        entry_id = await insert_entry(
            conn,
            [(CASH_USD, "D", 10000, "USD"), (FEE_INCOME_USD, "C", 10000, "USD")],
            post_to_accounts=False,
        )
    with pytest.raises(DBAPIError, match="nexum:unbalanced_entry"):
        async with storage.engine.begin() as conn:
            await conn.execute(
                insert(journal_lines).values(
                    entry_id=entry_id,
                    line_no=3,
                    account_id=CASH_USD,
                    account_seq=2,
                    side="D",
                    amount_minor=1,
                    currency="USD",
                    balance_after_minor=10001,
                    posted_at=datetime.now(UTC),
                )
            )
    assert await _entry_rows(storage, entry_id) == (1, 2)


@pytest.mark.postgres
async def test_postgresql_accepts_a_balanced_entry_written_directly(own_pg_storage):
    storage = own_pg_storage
    async with storage.engine.begin() as conn:
        entry_id = await insert_entry(
            conn,
            [(CASH_USD, "D", 10000, "USD"), (FEE_INCOME_USD, "C", 10000, "USD")],
            post_to_accounts=True,
        )
    assert await _entry_rows(storage, entry_id) == (1, 2)
    # written like the posting engine writes, it is a consistent ledger
    report = await verify_clean(storage)
    assert (report.counts["entries"], report.counts["lines"]) == (1, 2)
