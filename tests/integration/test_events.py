"""Events: the outbox written with each change, relayed to a real Kafka-protocol broker
(Tansu on loopback), at least once, in order per account, without personal data.

Each test has a database of its own with events on, and its own topic prefix."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from conftest import running, settings_for
from core_banking.api import create_app
from core_banking.bootstrap import Nexum, build
from core_banking.domain.accounts import AccountStatus
from core_banking.domain.commands import (
    CaptureHold,
    ChangeAccountStatus,
    CreateCustomer,
    Deposit,
    PlaceHold,
    ReleaseHold,
    Transfer,
    Withdraw,
)
from core_banking.domain.customers import DocumentKind, IdentityDocument, KycStatus
from core_banking.domain.errors import DomainError
from core_banking.domain.events import Topic
from core_banking.observability.health import health_report
from core_banking.services.event_relay import EventRelay
from core_banking.storage.outbox import OutboxRepository
from core_banking.storage.schema import audit_events, journal_lines, outbox_events
from support.banking import CONTEXT, funded_account, key, money, new_account
from support.databases import migrate
from support.kafka import Broker, Received, read_topics, running_broker

pytestmark = pytest.mark.slow

TOPICS = [topic.value for topic in Topic]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path / "tansu.log") as started:
        yield started


@pytest.fixture
def own_url(backend: str, request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    )
    migrate(url)
    return url


@pytest.fixture
async def events_bank(own_url: str, broker: Broker) -> AsyncIterator[Nexum]:
    """A bank on its own database, with events on and a topic prefix of its own."""
    bank = build(events_settings(own_url, broker))
    try:
        yield bank
    finally:
        await bank.aclose()


def events_settings(url: str, broker: Broker, **overrides: str) -> Any:
    return settings_for(
        url,
        enable_kafka_events="true",
        kafka_bootstrap_servers=broker.bootstrap,
        kafka_topic_prefix=f"t{uuid.uuid4().hex[:10]}",
        kafka_delivery_timeout_seconds="2",
        **overrides,
    )


def relay_of(bank: Nexum) -> EventRelay:
    assert bank.events is not None
    return bank.events


def topics_of(bank: Nexum) -> list[str]:
    return [f"{bank.config.kafka_topic_prefix}.{topic}" for topic in TOPICS]


async def drain(relay: EventRelay, cycles: int = 20) -> int:
    """Relay until the outbox is empty (a cycle may fail, as after a broker restart); the
    rows delivered."""
    total = 0
    for _ in range(cycles):
        total += (await relay.relay_once()).delivered
        if (await relay.backlog()).pending == 0:
            return total
    raise AssertionError("the outbox did not drain")


async def read_all(bank: Nexum) -> list[Received]:
    return await asyncio.to_thread(
        read_topics, bank.config.kafka_bootstrap_servers[0], topics_of(bank)
    )


async def scalar(bank: Nexum, statement: Any) -> Any:
    async with bank.storage.engine.connect() as conn:
        return await conn.scalar(statement)


async def outbox_rows(bank: Nexum) -> int:
    return int(await scalar(bank, select(func.count()).select_from(outbox_events)))


# --- the outbox is part of the change's transaction ------------------------------------------


async def test_a_posting_writes_its_events_and_a_refusal_writes_none(events_bank):
    account = await funded_account(events_bank, "100.00")
    # the customer's line and two audit events (account opened, deposit); the cash line of
    # the bank's own ledger is not announced
    assert await outbox_rows(events_bank) == 1 + 3  # + customer.created
    with pytest.raises(DomainError):
        await events_bank.ledger.withdraw(Withdraw(account.id, money("500.00"), key()), CONTEXT)
    assert await outbox_rows(events_bank) == 4
    other = await new_account(events_bank)
    before = await outbox_rows(events_bank)
    with pytest.raises(DomainError):
        await events_bank.ledger.execute_together(
            [
                Transfer(account.id, other.id, money("10.00"), key()),
                Withdraw(other.id, money("50.00"), key()),
            ],
            CONTEXT,
        )
    assert await outbox_rows(events_bank) == before


async def test_with_events_off_nothing_is_written_to_the_outbox(own_url):
    bank = build(settings_for(own_url))
    try:
        await funded_account(bank, "100.00")
        assert await outbox_rows(bank) == 0
        assert bank.events is None
    finally:
        await bank.aclose()


# --- relaying ----------------------------------------------------------------------------------


async def test_the_relay_publishes_the_catalogue_without_personal_data(events_bank, backend):
    customer_name = f"Zelda{uuid.uuid4().hex[:6]}"
    customer = await events_bank.customers.create(
        CreateCustomer(customer_name, "Quixote", email=f"{customer_name.lower()}@example.com"),
        CONTEXT,
    )
    payer = await funded_account(events_bank, "500.00")
    payee = await new_account(events_bank, customer=customer)
    transfer = await events_bank.ledger.transfer(
        Transfer(payer.id, payee.id, money("120.00"), key(), reference="rent for Zelda"),
        CONTEXT,
    )
    hold = await events_bank.holds.place(PlaceHold(payer.id, money("30.00"), key()), CONTEXT)
    capture = await events_bank.holds.capture(CaptureHold(hold.id, key(), money("20.00")), CONTEXT)
    second = await events_bank.holds.place(PlaceHold(payer.id, money("5.00"), key()), CONTEXT)
    await events_bank.holds.release(ReleaseHold(second.id, key()), CONTEXT)
    await events_bank.accounts.change_status(
        ChangeAccountStatus(payee.id, AccountStatus.FROZEN, "court order for Zelda"), CONTEXT
    )
    passport = IdentityDocument(DocumentKind.PASSPORT, "ZQ1234567", "GB", None)
    await events_bank.customers.set_kyc(customer.id, KycStatus.PENDING, 0, (passport,), CONTEXT)

    relayed = await drain(relay_of(events_bank))
    assert relayed > 0
    assert await outbox_rows(events_bank) == 0
    messages = await read_all(events_bank)
    prefix = events_bank.config.kafka_topic_prefix

    # every message names itself, once
    ids = [message.body["event_id"] for message in messages]
    assert len(ids) == len(set(ids))
    assert all(message.headers["event_id"] == message.body["event_id"] for message in messages)

    # no personal data or free text, anywhere
    raw = json.dumps([message.body for message in messages])
    for secret in (customer_name, "Quixote", "example.com", "ZQ1234567", "rent for", "court"):
        assert secret not in raw

    # transactions: one per line of a customer's account, with its balance after
    lines = [m for m in messages if m.topic == f"{prefix}.transactions"]
    payee_lines = [m.body["data"] for m in lines if m.key == str(payee.id)]
    assert payee_lines == [
        {
            "transaction_id": str(transfer.entry.id),
            "transaction_type": "transfer",
            "account_id": str(payee.id),
            "account_seq": 1,
            "side": "credit",
            "amount": {"amount": "120.00", "currency": "USD"},
            "balance_after": {"amount": "120.00", "currency": "USD"},
            "business_date": transfer.entry.business_date.isoformat(),
            "value_date": transfer.entry.value_date.isoformat(),
            "channel": transfer.entry.channel.value if transfer.entry.channel else None,
            "reversal_of": None,
        }
    ]
    payer_balances = [
        (m.body["data"]["account_seq"], m.body["data"]["balance_after"]["amount"])
        for m in lines
        if m.key == str(payer.id)
    ]
    assert payer_balances == [(1, "500.00"), (2, "380.00"), (3, "360.00")]
    async with events_bank.storage.engine.connect() as conn:
        customer_lines = await conn.scalar(
            select(func.count())
            .select_from(journal_lines)
            .where(journal_lines.c.account_id.in_([payer.id, payee.id]))
        )
        audited = await conn.scalar(select(func.count()).select_from(audit_events))
    assert len(lines) == customer_lines

    # the audit topic mirrors the trail, one message per audit event
    assert len([m for m in messages if m.topic == f"{prefix}.audit"]) == audited

    # accounts and customers, in order per key
    def events_for(topic: str, entity: Any) -> list[str]:
        return [
            m.body["event_type"]
            for m in messages
            if m.topic == f"{prefix}.{topic}" and m.key == str(entity)
        ]

    assert events_for("accounts", payer.id) == [
        "account.opened",
        "hold.placed",
        "hold.captured",
        "hold.placed",
        "hold.released",
    ]
    assert events_for("accounts", payee.id) == ["account.opened", "account.status_changed"]
    assert events_for("customers", customer.id) == ["customer.created", "customer.kyc_updated"]
    captured = next(m for m in messages if m.body["event_type"] == "hold.captured")
    assert captured.body["data"] == {
        "hold_id": str(hold.id),
        "account_id": str(payer.id),
        "transaction_id": str(capture.entry.id),
    }
    kyc = next(m for m in messages if m.body["event_type"] == "customer.kyc_updated")
    assert kyc.body["data"] == {
        "customer_id": str(customer.id),
        "status": "pending",
        "tier": 0,
        "documents": ["passport"],
    }


async def test_only_one_relay_leads_at_a_time(events_bank):
    await funded_account(events_bank, "10.00")
    first = relay_of(events_bank)
    second = EventRelay(
        events_bank.storage, first.publisher, events_bank.clock, batch_size=100, owner="second"
    )
    assert (await first.relay_once()).delivered > 0
    await funded_account(events_bank, "10.00")
    assert (await second.relay_once()).delivered == 0  # the first holds the lease
    assert await outbox_rows(events_bank) > 0
    stop = asyncio.Event()
    stop.set()
    await first.run(stop)  # a clean stop hands the lease over
    assert (await second.relay_once()).delivered > 0
    assert await outbox_rows(events_bank) == 0


async def test_a_row_sent_again_carries_the_same_event_ids(events_bank, monkeypatch):
    """A relay that dies after the broker acknowledged but before it deleted the rows sends
    them again; consumers see the same ids and deduplicate."""
    await funded_account(events_bank, "10.00")
    relay = relay_of(events_bank)

    class RelayDied(Exception):
        pass

    async def crash(*_: Any) -> None:
        raise RelayDied

    with monkeypatch.context() as patched:
        patched.setattr(OutboxRepository, "remove", crash)
        with pytest.raises(RelayDied):
            await relay.relay_once()
    first_pass = await read_all(events_bank)
    await drain(relay)
    messages = await read_all(events_bank)
    assert len(messages) == 2 * len(first_pass)
    assert {m.body["event_id"] for m in messages} == {m.body["event_id"] for m in first_pass}


async def test_while_the_broker_is_away_events_wait_and_none_is_lost(events_bank, broker):
    relay = relay_of(events_bank)
    account = await funded_account(events_bank, "100.00")
    await drain(relay)
    before = await read_all(events_bank)
    assert before

    broker.stop()
    for _ in range(3):
        await events_bank.ledger.withdraw(Withdraw(account.id, money("1.00"), key()), CONTEXT)
    cycle = await relay.relay_once()
    assert (cycle.delivered, cycle.undelivered) == (0, 3 + 3)
    report = await health_report(events_bank.storage, events_bank.config, kafka=relay)
    kafka = report["components"]["kafka"]
    assert (report["status"], kafka["status"], kafka["brokers_connected"]) == (
        "degraded",
        "unhealthy",
        0,
    )
    assert kafka["pending_events"] == 6

    broker.start()  # an empty broker: memory storage
    await drain(relay)
    after = await read_all(events_bank)
    withdrawals = [
        m.body["data"]["balance_after"]["amount"]
        for m in after
        if m.body["event_type"] == "transaction.posted"
    ]
    assert withdrawals == ["99.00", "98.00", "97.00"]
    report = await health_report(events_bank.storage, events_bank.config, kafka=relay)
    assert report["components"]["kafka"]["status"] == "healthy"
    assert report["components"]["kafka"]["pending_events"] == 0
    all_ids = {m.body["event_id"] for m in before + after}
    assert len(all_ids) == len(before) + len(after)


async def test_each_accounts_events_leave_in_its_own_order_under_concurrency(events_bank, backend):
    accounts = [await funded_account(events_bank, "1000.00") for _ in range(4)]

    async def client(number: int) -> None:
        for step in range(10):
            source = accounts[(number + step) % len(accounts)]
            target = accounts[(number + step + 1) % len(accounts)]
            await events_bank.ledger.transfer(
                Transfer(source.id, target.id, money("1.00"), key()), CONTEXT
            )

    relaying = asyncio.Event()
    relay_task = asyncio.create_task(relay_of(events_bank).run(relaying))
    await asyncio.gather(*(client(number) for number in range(6)))
    await asyncio.sleep(0.2)
    relaying.set()
    await relay_task
    await drain(relay_of(events_bank))
    messages = await read_all(events_bank)
    sequences: dict[str, list[int]] = defaultdict(list)
    for message in messages:
        if message.body["event_type"] == "transaction.posted":
            sequences[message.key].append(message.body["data"]["account_seq"])
    assert set(sequences) == {str(account.id) for account in accounts}
    for account_id, seqs in sequences.items():
        assert seqs == list(range(1, len(seqs) + 1)), account_id
    assert sum(len(seqs) for seqs in sequences.values()) == 4 + 6 * 10 * 2


async def test_an_api_process_relays_by_itself(own_url, broker):
    settings = events_settings(own_url, broker)
    async with running(create_app(settings)) as app:
        bank: Nexum = app.state.bank
        await funded_account(bank, "42.00")
        for _ in range(50):
            if await outbox_rows(bank) == 0:
                break
            await asyncio.sleep(0.1)
        assert await outbox_rows(bank) == 0
        messages = await read_all(bank)
    assert any(
        m.body["event_type"] == "transaction.posted"
        and m.body["data"]["balance_after"]["amount"] == "42.00"
        for m in messages
    )


async def test_deposits_are_announced_once_however_often_they_are_retried(events_bank):
    account = await new_account(events_bank)
    repeated = key()
    for _ in range(3):
        await events_bank.ledger.deposit(Deposit(account.id, money("7.00"), repeated), CONTEXT)
    await drain(relay_of(events_bank))
    messages = await read_all(events_bank)
    posted = [m for m in messages if m.body["event_type"] == "transaction.posted"]
    assert [m.body["data"]["amount"]["amount"] for m in posted] == ["7.00"]


async def test_a_batch_writes_the_outbox_rows_posting_one_by_one_writes(events_bank):
    """The same operations as one atomic batch on two accounts and one by one on two others:
    the same lines announced, account by account and position by position, and one audit
    event announced per entry either way."""

    async def announced(account_ids: list[Any]) -> list[list[int]]:
        async with events_bank.storage.engine.connect() as conn:
            return [
                list(
                    await conn.scalars(
                        select(outbox_events.c.account_seq)
                        .where(outbox_events.c.account_id == account_id)
                        .order_by(outbox_events.c.account_seq)
                    )
                )
                for account_id in account_ids
            ]

    async def audit_rows() -> int:
        return int(
            await scalar(
                events_bank,
                select(func.count())
                .select_from(outbox_events)
                .where(outbox_events.c.kind == "audit"),
            )
        )

    def operations(first: Any, second: Any) -> list[Any]:
        return [
            Transfer(first, second, money("10.00"), key()),
            Withdraw(second, money("4.00"), key()),
            Deposit(first, money("1.00"), key()),
            Transfer(second, first, money("2.00"), key()),
        ]

    batched = [(await funded_account(events_bank, "100.00")).id for _ in range(2)]
    alone = [(await funded_account(events_bank, "100.00")).id for _ in range(2)]
    before = await audit_rows()
    await events_bank.ledger.execute_together(operations(*batched), CONTEXT)
    after_batch = await audit_rows()
    for command in operations(*alone):
        await events_bank.ledger.execute(command, CONTEXT)

    assert await announced(batched) == await announced(alone) == [[1, 2, 3, 4], [1, 2, 3, 4]]
    assert after_batch - before == await audit_rows() - after_batch == 4
