"""The audit trail, on SQLite and on PostgreSQL: every posting and state change appends
exactly one record, in its own transaction, saying who did what to which entity under which
request; refusals and idempotent replays append nothing; the stored payload is the record's
canonical JSON; the hash chains verify; and with the trail switched off nothing is written."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Row, func, select, text, update
from sqlalchemy.exc import DBAPIError

from conftest import settings_for
from core_banking.bootstrap import Nexum, build, storage_from
from core_banking.domain.accounts import AccountStatus, ProductType
from core_banking.domain.audit import (
    AUDIT_SHARDS,
    AuditRecord,
    StoredAuditRecord,
    chain_hash,
    first_break,
    genesis_hash,
)
from core_banking.domain.canonical import canonical_json
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.commands import (
    CaptureHold,
    ChangeAccountStatus,
    CreateCustomer,
    Deposit,
    OpenAccount,
    PlaceHold,
    ReleaseHold,
    RequestContext,
    Transfer,
    Withdraw,
)
from core_banking.domain.customers import CustomerStatus
from core_banking.domain.errors import (
    AccountNotOperational,
    DomainError,
    HoldAmountExceeded,
    HoldNotActive,
    InsufficientFunds,
    InvalidInput,
    InvalidTransition,
    RuleViolation,
)
from core_banking.storage import create_storage
from core_banking.storage.schema import audit_chain_heads, audit_events
from core_banking.storage.verification import verify_ledger
from support.banking import CONTEXT, FakeClock, funded_account, key, money, new_account
from support.databases import migrate

CASH_USD = str(gl_account_id(GLCode.CASH, "USD"))
CLEARING_USD = str(gl_account_id(GLCode.EXTERNAL_CLEARING, "USD"))
PAYLOAD_KEYS = {
    "occurred_at",
    "actor",
    "action",
    "entity_type",
    "entity_id",
    "request_id",
    "details",
}


def _context(actor: str = "auditor") -> RequestContext:
    """A context of its own, so the records it produces can be found by request id."""
    return RequestContext(actor=f"{actor}:{uuid.uuid4().hex[:8]}", request_id=str(uuid.uuid4()))


async def _rows(bank: Nexum, *where: Any) -> list[Row[Any]]:
    async with bank.storage.engine.connect() as conn:
        query = (
            select(audit_events).where(*where).order_by(audit_events.c.shard, audit_events.c.seq)
        )
        return list((await conn.execute(query)).all())


async def _count(bank: Nexum) -> int:
    async with bank.storage.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(audit_events)) or 0)


async def _previous_hash(bank: Nexum, row: Row[Any]) -> bytes:
    if row.seq == 1:
        return genesis_hash(row.shard)
    [previous] = await _rows(
        bank, audit_events.c.shard == row.shard, audit_events.c.seq == row.seq - 1
    )
    return bytes(previous.hash)


async def _only_record(
    bank: Nexum,
    context: RequestContext,
    *,
    action: str,
    entity_type: str,
    entity_id: UUID | str,
    occurred_at: datetime,
    details: dict[str, Any],
) -> Row[Any]:
    """The one record written under ``context``, checked field by field against the
    AuditRecord it must have come from, and against its place in its chain."""
    rows = await _rows(bank, audit_events.c.request_id == context.request_id)
    assert len(rows) == 1, [row.action for row in rows]
    [row] = rows
    expected = AuditRecord(
        occurred_at=occurred_at,
        actor=context.actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        request_id=context.request_id,
        details=details,
    )
    assert (row.actor, row.action, row.entity_type, row.entity_id, row.request_id) == (
        expected.actor,
        expected.action,
        expected.entity_type,
        expected.entity_id,
        expected.request_id,
    )
    assert row.occurred_at == occurred_at
    assert row.payload == expected.payload()
    assert json.loads(row.payload) == {
        "occurred_at": occurred_at.isoformat(),
        "actor": context.actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "request_id": context.request_id,
        "details": details,
    }
    assert 0 <= row.shard < AUDIT_SHARDS
    assert bytes(row.hash) == chain_hash(await _previous_hash(bank, row), row.payload)
    return row


def _legs(*legs: tuple[object, str, int]) -> list[list[object]]:
    return [[str(account), side, amount, "USD"] for account, side, amount in legs]


async def _chains(bank: Nexum) -> dict[int, tuple[list[StoredAuditRecord], int, bytes]]:
    """Every shard's records in order, with its stored head."""
    async with bank.storage.engine.connect() as conn:
        heads = (await conn.execute(select(audit_chain_heads))).all()
        records = (
            await conn.execute(
                select(audit_events).order_by(audit_events.c.shard, audit_events.c.seq)
            )
        ).all()
    chains: dict[int, tuple[list[StoredAuditRecord], int, bytes]] = {
        head.shard: ([], head.seq, bytes(head.head_hash)) for head in heads
    }
    for row in records:
        chains[row.shard][0].append(
            StoredAuditRecord(row.shard, row.seq, row.payload, bytes(row.hash))
        )
    return chains


async def _assert_chains_hold(bank: Nexum) -> None:
    chains = await _chains(bank)
    assert sorted(chains) == list(range(AUDIT_SHARDS))
    for shard, (records, head_seq, head_hash) in chains.items():
        assert first_break(shard, records, head_seq, head_hash) is None
    report = await verify_ledger(bank.storage)
    assert report.violations == []


# --- a database of the test's own ----------------------------------------------------------


@pytest.fixture
def own_database_url(backend: str, request: pytest.FixtureRequest) -> str:
    name = "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    url: str = request.getfixturevalue(name)
    migrate(url)
    return url


@pytest.fixture
async def own_bank(own_database_url: str, clock: FakeClock) -> AsyncIterator[Nexum]:
    """An audited bank on a fresh database: its audit trail is this test's alone."""
    bank = build(
        settings_for(own_database_url), storage=create_storage(own_database_url), clock=clock
    )
    yield bank
    await bank.aclose()


@pytest.fixture
async def quiet_bank(own_database_url: str, clock: FakeClock) -> AsyncIterator[Nexum]:
    """The same, with the audit trail switched off."""
    config = settings_for(own_database_url, enable_audit_logging="false")
    assert config.enable_audit_logging is False
    bank = build(config, storage=create_storage(own_database_url, audit_enabled=False), clock=clock)
    yield bank
    await bank.aclose()


# --- one record per operation --------------------------------------------------------------


async def test_each_operation_writes_one_record(bank, clock):
    # customer.created
    ctx = _context("clerk")
    customer = await bank.customers.create(CreateCustomer("Ada", "Lovelace"), ctx)
    await _only_record(
        bank,
        ctx,
        action="customer.created",
        entity_type="customer",
        entity_id=customer.id,
        occurred_at=clock.now(),
        details={},
    )

    # account.opened
    clock.advance(seconds=1)
    ctx = _context("clerk")
    account = await bank.accounts.open(
        OpenAccount(customer.id, ProductType.CHECKING, "USD", "Main"), ctx
    )
    await _only_record(
        bank,
        ctx,
        action="account.opened",
        entity_type="account",
        entity_id=account.id,
        occurred_at=clock.now(),
        details={
            "customer_id": str(customer.id),
            "number": account.number,
            "currency": "USD",
            "product": "checking",
        },
    )
    other = await new_account(bank)

    # ledger.deposit
    clock.advance(seconds=1)
    ctx = _context("teller")
    deposit = await bank.ledger.deposit(Deposit(account.id, money("500.00"), key()), ctx)
    await _only_record(
        bank,
        ctx,
        action="ledger.deposit",
        entity_type="journal_entry",
        entity_id=deposit.entry.id,
        occurred_at=clock.now(),
        details={"legs": _legs((CASH_USD, "D", 50000), (account.id, "C", 50000))},
    )

    # ledger.withdrawal
    clock.advance(seconds=1)
    ctx = _context("teller")
    withdrawal = await bank.ledger.withdraw(Withdraw(account.id, money("12.34"), key()), ctx)
    await _only_record(
        bank,
        ctx,
        action="ledger.withdrawal",
        entity_type="journal_entry",
        entity_id=withdrawal.entry.id,
        occurred_at=clock.now(),
        details={"legs": _legs((account.id, "D", 1234), (CASH_USD, "C", 1234))},
    )

    # ledger.transfer
    clock.advance(seconds=1)
    ctx = _context("customer")
    transfer = await bank.ledger.transfer(
        Transfer(account.id, other.id, money("100.00"), key()), ctx
    )
    await _only_record(
        bank,
        ctx,
        action="ledger.transfer",
        entity_type="journal_entry",
        entity_id=transfer.entry.id,
        occurred_at=clock.now(),
        details={"legs": _legs((account.id, "D", 10000), (other.id, "C", 10000))},
    )

    # hold.placed
    clock.advance(seconds=1)
    ctx = _context("card")
    hold = await bank.holds.place(PlaceHold(account.id, money("50.00"), key()), ctx)
    await _only_record(
        bank,
        ctx,
        action="hold.placed",
        entity_type="hold",
        entity_id=hold.id,
        occurred_at=clock.now(),
        details={"account_id": str(account.id), "amount_minor": 5000, "currency": "USD"},
    )

    # ledger.hold_capture
    clock.advance(seconds=1)
    ctx = _context("card")
    capture = await bank.holds.capture(CaptureHold(hold.id, key(), money("30.00")), ctx)
    await _only_record(
        bank,
        ctx,
        action="ledger.hold_capture",
        entity_type="journal_entry",
        entity_id=capture.entry.id,
        occurred_at=clock.now(),
        details={
            "legs": _legs((account.id, "D", 3000), (CLEARING_USD, "C", 3000)),
            "hold_id": str(hold.id),
            "account_id": str(account.id),
        },
    )

    # hold.released
    second = await bank.holds.place(PlaceHold(account.id, money("5.00"), key()), CONTEXT)
    clock.advance(seconds=1)
    ctx = _context("card")
    await bank.holds.release(ReleaseHold(second.id, key()), ctx)
    await _only_record(
        bank,
        ctx,
        action="hold.released",
        entity_type="hold",
        entity_id=second.id,
        occurred_at=clock.now(),
        details={"account_id": str(account.id)},
    )

    # account.status_changed
    clock.advance(seconds=1)
    ctx = _context("officer")
    await bank.accounts.change_status(
        ChangeAccountStatus(account.id, AccountStatus.FROZEN, "fraud check"), ctx
    )
    await _only_record(
        bank,
        ctx,
        action="account.status_changed",
        entity_type="account",
        entity_id=account.id,
        occurred_at=clock.now(),
        details={"from": "active", "to": "frozen", "reason": "fraud check"},
    )

    # customer.status_changed
    clock.advance(seconds=1)
    ctx = _context("officer")
    await bank.customers.change_status(customer.id, CustomerStatus.SUSPENDED, "kyc", ctx)
    await _only_record(
        bank,
        ctx,
        action="customer.status_changed",
        entity_type="customer",
        entity_id=customer.id,
        occurred_at=clock.now(),
        details={"from": "active", "to": "suspended", "reason": "kyc"},
    )

    # The entity's history reads back in full: one record per change, oldest first.
    history = await _rows(
        bank, audit_events.c.entity_type == "account", audit_events.c.entity_id == str(account.id)
    )
    assert sorted((row.occurred_at, row.action) for row in history) == [
        (clock.now() - timedelta(seconds=8), "account.opened"),
        (clock.now() - timedelta(seconds=1), "account.status_changed"),
    ]
    hold_history = await _rows(bank, audit_events.c.entity_id == str(hold.id))
    assert [row.action for row in hold_history] == ["hold.placed"]
    await _assert_chains_hold(bank)


async def test_a_record_without_a_request_id(bank, clock):
    context = RequestContext(actor=f"batch:{uuid.uuid4().hex}")
    customer = await bank.customers.create(CreateCustomer("Nils", "Nobody"), context)
    [row] = await _rows(bank, audit_events.c.actor == context.actor)
    assert row.request_id is None
    assert (row.action, row.entity_id) == ("customer.created", str(customer.id))
    payload = json.loads(row.payload)
    assert payload["request_id"] is None
    assert payload["actor"] == context.actor
    assert (
        row.payload
        == AuditRecord(
            clock.now(), context.actor, "customer.created", "customer", str(customer.id)
        ).payload()
    )


async def test_expiry_writes_one_record_per_sweep(own_bank, clock):
    bank = own_bank
    account = await funded_account(bank, "100.00")
    holds = [
        await bank.holds.place(
            PlaceHold(account.id, money(amount), key(), clock.now() + timedelta(hours=1)),
            CONTEXT,
        )
        for amount in ("1.00", "2.00", "3.00")
    ]
    before = await _count(bank)

    ctx = _context("sweeper")
    assert await bank.holds.expire_due(ctx) == 0
    assert await _count(bank) == before  # an empty sweep records nothing

    clock.advance(hours=2)
    ctx = _context("sweeper")
    assert await bank.holds.expire_due(ctx) == 3
    [row] = await _rows(bank, audit_events.c.request_id == ctx.request_id)
    assert await _count(bank) == before + 1
    assert (row.action, row.entity_type, row.actor) == ("holds.expired", "hold_batch", ctx.actor)
    payload = json.loads(row.payload)
    assert sorted(payload["details"]["holds"], key=lambda h: h["hold_id"]) == sorted(
        ({"hold_id": str(hold.id), "account_id": str(account.id)} for hold in holds),
        key=lambda h: h["hold_id"],
    )
    assert payload["entity_id"] == row.entity_id
    assert UUID(row.entity_id) not in {hold.id for hold in holds}
    assert row.occurred_at == clock.now()
    assert (
        row.payload
        == AuditRecord(
            clock.now(),
            ctx.actor,
            "holds.expired",
            "hold_batch",
            row.entity_id,
            ctx.request_id,
            {"holds": payload["details"]["holds"]},
        ).payload()
    )
    await _assert_chains_hold(bank)


# --- refusals and replays write nothing ----------------------------------------------------


async def test_refused_operations_write_no_record(own_bank, clock):
    bank = own_bank
    account = await funded_account(bank, "100.00")
    other = await funded_account(bank, "10.00")
    hold = await bank.holds.place(PlaceHold(account.id, money("20.00"), key()), CONTEXT)
    captured = await bank.holds.place(PlaceHold(account.id, money("5.00"), key()), CONTEXT)
    await bank.holds.capture(CaptureHold(captured.id, key()), CONTEXT)
    frozen = await funded_account(bank, "10.00")
    await bank.accounts.change_status(
        ChangeAccountStatus(frozen.id, AccountStatus.FROZEN, "hold"), CONTEXT
    )
    suspended = await bank.customers.create(CreateCustomer("Sus", "Pended"), CONTEXT)
    await bank.customers.change_status(suspended.id, CustomerStatus.SUSPENDED, "kyc", CONTEXT)
    closed = await bank.customers.create(CreateCustomer("Clo", "Sed"), CONTEXT)
    await bank.customers.change_status(closed.id, CustomerStatus.CLOSED, "gone", CONTEXT)

    before = await _count(bank)
    contexts: list[RequestContext] = []

    async def refused(error: type[DomainError], operation: Any) -> None:
        ctx = _context("refused")
        contexts.append(ctx)
        with pytest.raises(error):
            await operation(ctx)

    await refused(
        InsufficientFunds,
        lambda c: bank.ledger.withdraw(Withdraw(account.id, money("80.01"), key()), c),
    )
    await refused(
        InsufficientFunds,
        lambda c: bank.ledger.transfer(Transfer(other.id, account.id, money("10.01"), key()), c),
    )
    await refused(
        AccountNotOperational,
        lambda c: bank.ledger.deposit(Deposit(frozen.id, money("1.00"), key()), c),
    )
    await refused(
        InvalidInput,
        lambda c: bank.ledger.transfer(Transfer(account.id, account.id, money("1.00"), key()), c),
    )
    await refused(
        InsufficientFunds,
        lambda c: bank.holds.place(PlaceHold(account.id, money("75.01"), key()), c),
    )
    await refused(
        AccountNotOperational,
        lambda c: bank.holds.place(PlaceHold(frozen.id, money("1.00"), key()), c),
    )
    await refused(
        HoldAmountExceeded,
        lambda c: bank.holds.capture(CaptureHold(hold.id, key(), money("20.01")), c),
    )
    await refused(HoldNotActive, lambda c: bank.holds.capture(CaptureHold(captured.id, key()), c))
    await refused(HoldNotActive, lambda c: bank.holds.release(ReleaseHold(captured.id, key()), c))
    await refused(
        RuleViolation,
        lambda c: bank.accounts.open(
            OpenAccount(suspended.id, ProductType.SAVINGS, "USD", "No"), c
        ),
    )
    await refused(
        RuleViolation,
        lambda c: bank.accounts.open(OpenAccount(closed.id, ProductType.SAVINGS, "USD", "No"), c),
    )
    await refused(
        InvalidInput,
        lambda c: bank.accounts.open(
            OpenAccount(
                account.customer_id,  # type: ignore[arg-type]
                ProductType.SAVINGS,
                "USD",
                "No",
                overdraft_limit=money("1.00", "EUR"),
            ),
            c,
        ),
    )
    await refused(
        InvalidTransition,
        lambda c: bank.accounts.change_status(
            ChangeAccountStatus(account.id, AccountStatus.CLOSED, "has money"), c
        ),
    )
    await refused(
        InvalidTransition,
        lambda c: bank.accounts.change_status(
            ChangeAccountStatus(frozen.id, AccountStatus.DORMANT, "not allowed"), c
        ),
    )
    await refused(InvalidInput, lambda c: bank.customers.create(CreateCustomer("", "X"), c))
    await refused(
        InvalidTransition,
        lambda c: bank.customers.change_status(closed.id, CustomerStatus.ACTIVE, "back", c),
    )

    assert await _count(bank) == before
    for ctx in contexts:
        assert await _rows(bank, audit_events.c.request_id == ctx.request_id) == []

    # The refusals left the books as they were, and the next operation is recorded as usual.
    assert (await bank.accounts.get(account.id)).posted_minor == 9500
    ctx = _context()
    await bank.ledger.withdraw(Withdraw(account.id, money("1.00"), key()), ctx)
    assert await _count(bank) == before + 1
    assert len(await _rows(bank, audit_events.c.request_id == ctx.request_id)) == 1
    await _assert_chains_hold(bank)


async def test_idempotent_replays_write_no_record(own_bank):
    bank = own_bank
    ctx = _context("client")
    customer_command = CreateCustomer("Re", "Play", idempotency_key=key())
    customer = await bank.customers.create(customer_command, ctx)
    open_command = OpenAccount(
        customer.id, ProductType.CHECKING, "USD", "Replay", idempotency_key=key()
    )
    account = await bank.accounts.open(open_command, ctx)
    deposit = Deposit(account.id, money("100.00"), key())
    await bank.ledger.deposit(deposit, ctx)
    place = PlaceHold(account.id, money("40.00"), key())
    hold = await bank.holds.place(place, ctx)
    capture = CaptureHold(hold.id, key(), money("10.00"))
    await bank.holds.capture(capture, ctx)
    second = await bank.holds.place(PlaceHold(account.id, money("5.00"), key()), ctx)
    release = ReleaseHold(second.id, key())
    await bank.holds.release(release, ctx)

    records = await _rows(bank, audit_events.c.request_id == ctx.request_id)
    assert sorted(row.action for row in records) == sorted(
        [
            "customer.created",
            "account.opened",
            "ledger.deposit",
            "hold.placed",
            "ledger.hold_capture",
            "hold.placed",
            "hold.released",
        ]
    )
    before = await _count(bank)
    assert before == len(records)

    assert (await bank.customers.create(customer_command, ctx)).id == customer.id
    assert (await bank.accounts.open(open_command, ctx)).id == account.id
    assert (await bank.ledger.deposit(deposit, ctx)).replayed is True
    assert (await bank.holds.place(place, ctx)).id == hold.id
    assert (await bank.holds.capture(capture, ctx)).replayed is True
    assert (await bank.holds.release(release, ctx)).id == second.id

    assert await _count(bank) == before
    assert (await bank.accounts.get(account.id)).posted_minor == 9000
    await _assert_chains_hold(bank)


# --- the stored payloads and the chains ----------------------------------------------------


async def _some_history(bank: Nexum, clock: FakeClock) -> None:
    for number in range(12):
        ctx = _context()
        account = await funded_account(bank, "100.00")
        clock.advance(seconds=1)
        await bank.ledger.withdraw(Withdraw(account.id, money(f"{number + 1}.00"), key()), ctx)
        hold = await bank.holds.place(PlaceHold(account.id, money("1.00"), key()), ctx)
        if number % 2:
            await bank.holds.capture(CaptureHold(hold.id, key()), ctx)
        else:
            await bank.holds.release(ReleaseHold(hold.id, key()), ctx)


async def test_every_payload_is_the_canonical_record(own_bank, clock):
    bank = own_bank
    await _some_history(bank, clock)
    rows = await _rows(bank)
    # 12 x (customer, account, deposit, withdrawal, hold placed, capture or release)
    assert len(rows) == 72
    for row in rows:
        payload = json.loads(row.payload)
        assert set(payload) == PAYLOAD_KEYS
        assert payload["actor"] == row.actor
        assert payload["action"] == row.action
        assert payload["entity_type"] == row.entity_type
        assert payload["entity_id"] == row.entity_id
        assert payload["request_id"] == row.request_id
        assert datetime.fromisoformat(payload["occurred_at"]) == row.occurred_at
        record = AuditRecord(
            occurred_at=row.occurred_at,
            actor=row.actor,
            action=row.action,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            request_id=row.request_id,
            details=payload["details"],
        )
        assert record.payload() == row.payload
        assert canonical_json(payload) == row.payload
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.action] = counts.get(row.action, 0) + 1
    assert counts == {
        "customer.created": 12,
        "account.opened": 12,
        "ledger.deposit": 12,
        "ledger.withdrawal": 12,
        "hold.placed": 12,
        "ledger.hold_capture": 6,
        "hold.released": 6,
    }


async def test_the_chains_verify_and_catch_tampering(own_bank, clock):
    bank = own_bank
    await _some_history(bank, clock)
    await _assert_chains_hold(bank)

    chains = await _chains(bank)
    assert sum(head_seq for _, head_seq, _ in chains.values()) == 72
    shard, (records, head_seq, head_hash) = max(chains.items(), key=lambda item: len(item[1][0]))
    assert len(records) >= 2
    assert [record.seq for record in records] == list(range(1, head_seq + 1))

    # In memory: a changed payload, a missing tail, a gap and a reordering are all caught.
    changed = list(records)
    changed[0] = replace(changed[0], payload=changed[0].payload.replace('"actor":"', '"actor":"x'))
    assert first_break(shard, changed, head_seq, head_hash) == (
        f"audit shard {shard}: hash mismatch at seq 1"
    )
    assert first_break(shard, records[:-1], head_seq, head_hash) == (
        f"audit shard {shard}: head at seq {head_seq} does not match the chain"
    )
    assert first_break(shard, records[1:], head_seq, head_hash) == (
        f"audit shard {shard}: expected seq 1, found 2"
    )
    swapped = [records[1], records[0], *records[2:]]
    assert first_break(shard, swapped, head_seq, head_hash) is not None
    assert first_break((shard + 1) % AUDIT_SHARDS, records, head_seq, head_hash) == (
        f"audit shard {(shard + 1) % AUDIT_SHARDS}: hash mismatch at seq 1"
    )

    # In the database: the trail itself is append-only ...
    async with bank.storage.engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append_only"):
            await conn.execute(
                update(audit_events)
                .where(audit_events.c.shard == shard, audit_events.c.seq == 1)
                .values(actor="mallory")
            )
        await conn.rollback()
        with pytest.raises(DBAPIError, match="append_only"):
            await conn.execute(
                text("DELETE FROM audit_events WHERE shard = :shard AND seq = :seq"),
                {"shard": shard, "seq": head_seq},
            )
        await conn.rollback()
    await _assert_chains_hold(bank)

    # ... and a head moved back (hiding the last record) is reported by verify.
    async with bank.storage.engine.begin() as conn:
        await conn.execute(
            update(audit_chain_heads)
            .where(audit_chain_heads.c.shard == shard)
            .values(seq=head_seq - 1, head_hash=records[-2].hash)
        )
    report = await verify_ledger(bank.storage)
    assert [(v.check, v.detail) for v in report.violations] == [
        ("audit_chain", f"audit shard {shard}: head at seq {head_seq - 1} does not match the chain")
    ]


# --- switched off --------------------------------------------------------------------------


async def test_with_the_trail_switched_off_nothing_is_written(quiet_bank, own_database_url, clock):
    bank = quiet_bank
    assert bank.storage.audit_enabled is False
    assert storage_from(bank.config).audit_enabled is False  # the setting reaches the storage

    customer = await bank.customers.create(CreateCustomer("Quiet", "One"), CONTEXT)
    account = await bank.accounts.open(
        OpenAccount(customer.id, ProductType.CHECKING, "USD", "Quiet", idempotency_key=key()),
        CONTEXT,
    )
    other = await new_account(bank)
    await bank.ledger.deposit(Deposit(account.id, money("100.00"), key()), CONTEXT)
    await bank.ledger.withdraw(Withdraw(account.id, money("10.00"), key()), CONTEXT)
    await bank.ledger.transfer(Transfer(account.id, other.id, money("10.00"), key()), CONTEXT)
    hold = await bank.holds.place(PlaceHold(account.id, money("20.00"), key()), CONTEXT)
    await bank.holds.capture(CaptureHold(hold.id, key(), money("5.00")), CONTEXT)
    second = await bank.holds.place(PlaceHold(account.id, money("2.00"), key()), CONTEXT)
    await bank.holds.release(ReleaseHold(second.id, key()), CONTEXT)
    await bank.holds.place(
        PlaceHold(account.id, money("3.00"), key(), clock.now() + timedelta(minutes=1)), CONTEXT
    )
    clock.advance(minutes=2)
    assert await bank.holds.expire_due(CONTEXT) == 1
    await bank.accounts.change_status(
        ChangeAccountStatus(other.id, AccountStatus.DORMANT, "quiet"), CONTEXT
    )
    await bank.customers.change_status(customer.id, CustomerStatus.SUSPENDED, "quiet", CONTEXT)

    assert (await bank.accounts.get(account.id)).posted_minor == 7500
    assert await _count(bank) == 0
    chains = await _chains(bank)
    assert {head_seq for _, head_seq, _ in chains.values()} == {0}
    assert all(head_hash == genesis_hash(shard) for shard, (_, _, head_hash) in chains.items())
    report = await verify_ledger(bank.storage)
    assert report.violations == []
    assert report.counts["audit_records"] == 0

    # The same database with the trail on records again: the switch was the difference.
    loud = build(
        settings_for(own_database_url), storage=create_storage(own_database_url), clock=clock
    )
    try:
        ctx = _context()
        await loud.ledger.deposit(Deposit(account.id, money("1.00"), key()), ctx)
        assert await _count(loud) == 1
        [row] = await _rows(loud, audit_events.c.request_id == ctx.request_id)
        assert row.action == "ledger.deposit"
        await _assert_chains_hold(loud)
    finally:
        await loud.aclose()
