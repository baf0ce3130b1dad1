"""The product catalogue through the services, on SQLite and on PostgreSQL: creating a
product, revising it as new versions, the draft -> active -> retired life cycle with one
active version at a time, reading and listing, the audit trail, accounts opened from a
product keeping their version, the refusals, what the database itself enforces, concurrent
changes, and migration 0004 over a ledger that already holds money."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from conftest import settings_for
from core_banking.bootstrap import Nexum, build
from core_banking.domain.accounts import Account, ProductType
from core_banking.domain.commands import Deposit, OpenAccount, PlaceHold
from core_banking.domain.errors import (
    CurrencyMismatch,
    IdempotencyKeyReused,
    InvalidAmount,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RuleViolation,
)
from core_banking.domain.lending.catalog import ProductKind, ProductRecord
from core_banking.domain.lending.deposit_products import DepositKind
from core_banking.domain.lending.errors import ProductNotActive, WrongProductKind
from core_banking.domain.lending.products import ProductStatus
from core_banking.domain.lending.rates import FixedRate
from core_banking.migrations import MigrationManager
from core_banking.ports import AuditQuery, ProductQuery
from core_banking.services.products import CreateProduct, ReviseProduct
from core_banking.storage import Storage
from core_banking.storage.schema import accounts, journal_lines, products
from core_banking.storage.verification import verify_ledger
from support.banking import CONTEXT, FakeClock, key, money, new_customer
from support.databases import REVISIONS, migrate
from support.products import (
    create_product,
    credit_line_terms,
    deposit_terms,
    loan_terms,
    term_deposit_terms,
)

# --- helpers ----------------------------------------------------------------------------------


def product_id_of(record: ProductRecord) -> UUID:
    return record.product.product_id


async def revise_product(bank: Nexum, record: ProductRecord, **changes: Any) -> ProductRecord:
    """The next version of a deposit product, with ``changes`` to the standard terms."""
    return await bank.products.revise(
        ReviseProduct(
            product_id_of(record), ProductKind.DEPOSIT, "Easy saver", deposit_terms(**changes)
        ),
        CONTEXT,
    )


async def open_from(bank: Nexum, product_id: UUID, currency: str = "USD") -> Account:
    customer = await new_customer(bank)
    return await bank.accounts.open(
        OpenAccount(customer.id, None, currency, "From a product", product_id=product_id),
        CONTEXT,
    )


async def audit_of(bank: Nexum, product_id: UUID) -> list[tuple[str, dict[str, Any]]]:
    """(action, details) of the product's audit records (records written at the same moment
    of the fake clock have no order between them)."""
    events = await bank.audit_trail.events(
        AuditQuery(limit=100, entity_type="product", entity_id=str(product_id))
    )
    return [(event.action, json.loads(event.payload)["details"]) for event in events]


async def statuses(bank: Nexum, product_id: UUID, versions: int) -> list[ProductStatus]:
    return [
        (await bank.products.get(product_id, version)).product.status
        for version in range(1, versions + 1)
    ]


# --- creating -----------------------------------------------------------------------------------


async def test_create_makes_version_one_a_draft_and_audits_it(bank, clock):
    record = await bank.products.create(
        CreateProduct(ProductKind.DEPOSIT, "  Easy saver ", "EUR", deposit_terms()), CONTEXT
    )

    product = record.product
    assert (product.version, product.status, product.name) == (1, ProductStatus.DRAFT, "Easy saver")
    assert product.currency.code == "EUR"
    assert product.rate == FixedRate(Decimal("0.0525"))
    assert (record.created_at, record.updated_at, record.created_by) == (
        clock.now(),
        clock.now(),
        CONTEXT.actor,
    )
    assert await bank.products.get(product.product_id) == record
    assert await bank.products.get(product.product_id, 1) == record
    assert await audit_of(bank, product.product_id) == [
        (
            "product.created",
            {"version": 1, "name": "Easy saver", "kind": "deposit", "currency": "EUR"},
        )
    ]


@pytest.mark.parametrize(
    "kind", [ProductKind.DEPOSIT, ProductKind.TERM_LOAN, ProductKind.CREDIT_LINE]
)
async def test_every_kind_of_product_is_stored_and_read_back_exactly(bank, kind):
    record = await create_product(bank, kind, currency="JPY", name=f"A {kind} product")
    assert record.kind is kind
    assert await bank.products.get(product_id_of(record)) == record


async def test_create_with_an_idempotency_key_creates_once(bank):
    first_key = key()
    command = CreateProduct(ProductKind.TERM_LOAN, "Personal loan", "USD", loan_terms(), first_key)
    first = await bank.products.create(command, CONTEXT)
    again = await bank.products.create(command, CONTEXT)
    assert again == first
    assert [action for action, _ in await audit_of(bank, product_id_of(first))] == [
        "product.created"
    ]
    with pytest.raises(IdempotencyKeyReused):
        await bank.products.create(replace(command, name="Another loan"), CONTEXT)


@pytest.mark.parametrize(
    ("terms", "error", "field"),
    [
        (deposit_terms(surprise=1), InvalidInput, "surprise"),
        ({k: v for k, v in deposit_terms().items() if k != "day_count"}, InvalidInput, "day_count"),
        (deposit_terms(name="Another name"), InvalidInput, "name"),
        (deposit_terms(rate=Decimal("0.05")), InvalidInput, "rate"),
        (deposit_terms(transaction_fee_minor=-1), InvalidAmount, "transaction_fee_minor"),
        (deposit_terms(kind=DepositKind.TERM_DEPOSIT), InvalidInput, "term_deposit"),
    ],
    ids=[
        "unknown field",
        "missing field",
        "identity field",
        "bare rate",
        "negative fee",
        "no term",
    ],
)
async def test_create_refuses_terms_that_do_not_make_a_product(bank, terms, error, field):
    with pytest.raises(error) as refused:
        await bank.products.create(
            CreateProduct(ProductKind.DEPOSIT, "Broken", "USD", terms), CONTEXT
        )
    assert refused.value.context.get("field") == field


async def test_create_refuses_a_float_rate_and_an_unknown_currency(bank):
    with pytest.raises(InvalidInput, match="Decimal"):
        await create_product(bank, ProductKind.TERM_LOAN, terms=loan_terms(annual_rate=0.12))
    with pytest.raises(InvalidInput):
        await create_product(bank, currency="XYZ")


# --- versions and life cycle --------------------------------------------------------------------


async def test_a_revision_is_the_next_version_and_leaves_the_old_one_unchanged(bank, clock):
    first = await create_product(bank)
    clock.advance(seconds=5)

    second = await revise_product(bank, first, monthly_maintenance_fee_minor=500)

    assert (second.product.version, second.product.status) == (2, ProductStatus.DRAFT)
    assert second.product.monthly_maintenance_fee_minor == 500
    assert second.created_at == clock.now()
    assert await bank.products.get(product_id_of(first), 1) == first
    assert await bank.products.get(product_id_of(first)) == second
    assert sorted(await audit_of(bank, product_id_of(first))) == [
        (
            "product.created",
            {"version": 1, "name": "Easy saver", "kind": "deposit", "currency": "USD"},
        ),
        ("product.revised", {"version": 2, "name": "Easy saver", "revised_from": 1}),
    ]


async def test_a_revision_keeps_kind_and_currency(bank):
    record = await create_product(bank)
    with pytest.raises(InvalidInput, match="kind"):
        await bank.products.revise(
            ReviseProduct(product_id_of(record), ProductKind.TERM_LOAN, "Loan", loan_terms()),
            CONTEXT,
        )
    with pytest.raises(InvalidInput, match="currency"):
        await revise_product(bank, record, currency="EUR")
    with pytest.raises(NotFound):
        await bank.products.revise(
            ReviseProduct(UUID(int=7), ProductKind.DEPOSIT, "Nothing", deposit_terms()), CONTEXT
        )
    assert await bank.products.get(product_id_of(record)) == record


async def test_activating_a_version_retires_the_one_that_was_active(bank, clock):
    first = await create_product(bank, active=True)
    assert first.product.status is ProductStatus.ACTIVE
    second = await revise_product(bank, first, minimum_opening_minor=100_00)
    product_id = product_id_of(first)
    clock.advance(seconds=1)

    activated = await bank.products.activate(product_id, 2, CONTEXT)

    assert activated.product == replace(second.product, status=ProductStatus.ACTIVE)
    assert activated.updated_at == clock.now()
    assert await statuses(bank, product_id, 2) == [ProductStatus.RETIRED, ProductStatus.ACTIVE]
    retired = await bank.products.get(product_id, 1)
    assert retired.product == replace(first.product, status=ProductStatus.RETIRED)
    trail = await audit_of(bank, product_id)
    assert ("product.retired", {"version": 1, "name": "Easy saver", "replaced_by": 2}) in trail
    assert ("product.activated", {"version": 2, "name": "Easy saver"}) in trail
    assert [action for action, _ in trail].count("product.activated") == 2  # versions 1, 2


async def test_only_a_draft_is_activated_and_a_retired_version_is_final(bank):
    record = await create_product(bank, active=True)
    product_id = product_id_of(record)
    with pytest.raises(InvalidTransition):
        await bank.products.activate(product_id, 1, CONTEXT)
    retired = await bank.products.retire(product_id, 1, CONTEXT)
    assert retired.product.status is ProductStatus.RETIRED
    for change in (bank.products.activate, bank.products.retire):
        with pytest.raises(InvalidTransition):
            await change(product_id, 1, CONTEXT)
    with pytest.raises(NotFound):
        await bank.products.activate(product_id, 2, CONTEXT)
    assert sorted(action for action, _ in await audit_of(bank, product_id)) == [
        "product.activated",
        "product.created",
        "product.retired",
    ]  # the refused changes left no record
    assert ("product.retired", {"version": 1, "name": "Easy saver"}) in await audit_of(
        bank, product_id
    )


async def test_revising_after_an_abandoned_draft_builds_on_the_active_version(bank):
    first = await create_product(bank, active=True)
    product_id = product_id_of(first)
    await revise_product(bank, first, transaction_fee_minor=10)
    await bank.products.retire(product_id, 2, CONTEXT)  # the draft, abandoned

    third = await revise_product(bank, first, transaction_fee_minor=20)

    assert (third.product.version, third.product.status) == (3, ProductStatus.DRAFT)
    revisions = [d for action, d in await audit_of(bank, product_id) if action == "product.revised"]
    assert sorted((d["version"], d["revised_from"]) for d in revisions) == [(2, 1), (3, 1)]
    assert await statuses(bank, product_id, 3) == [
        ProductStatus.ACTIVE,
        ProductStatus.RETIRED,
        ProductStatus.DRAFT,
    ]


async def test_revising_after_an_abandoned_draft_builds_on_an_earlier_draft(bank):
    first = await create_product(bank)  # never activated
    product_id = product_id_of(first)
    await revise_product(bank, first)
    await bank.products.retire(product_id, 2, CONTEXT)

    third = await revise_product(bank, first)

    assert (third.product.version, third.product.status) == (3, ProductStatus.DRAFT)
    revisions = [d for action, d in await audit_of(bank, product_id) if action == "product.revised"]
    assert sorted((d["version"], d["revised_from"]) for d in revisions) == [(2, 1), (3, 1)]


async def test_a_product_whose_versions_are_all_retired_is_closed(bank):
    record = await create_product(bank, active=True)
    await bank.products.retire(product_id_of(record), 1, CONTEXT)
    with pytest.raises(RuleViolation, match="retired"):
        await revise_product(bank, record)


async def test_unknown_products_and_versions_are_not_found(bank):
    record = await create_product(bank)
    with pytest.raises(NotFound):
        await bank.products.get(UUID(int=1))
    with pytest.raises(NotFound) as missing:
        await bank.products.get(product_id_of(record), 2)
    assert missing.value.context == {"product_id": str(product_id_of(record)), "version": 2}


# --- listing --------------------------------------------------------------------------------


async def test_list_filters_by_kind_status_and_currency_and_pages_newest_first(bank):
    made = [await create_product(bank, currency="CHF", name=f"Saver {n}") for n in range(3)]
    await revise_product(bank, made[0])
    await bank.products.activate(product_id_of(made[1]), 1, CONTEXT)
    loan = await create_product(bank, ProductKind.TERM_LOAN, currency="CHF", name="Loan")

    async def every_page(**filters: Any) -> list[tuple[UUID, int]]:
        seen: list[tuple[UUID, int]] = []
        after = None
        for _ in range(100):
            page = await bank.products.list(ProductQuery(limit=2, after=after, **filters))
            seen += [(r.product.product_id, r.product.version) for r in page]
            assert all(r.product.currency.code == "CHF" for r in page)
            if len(page) < 2:
                return seen
            after = seen[-1]
        raise AssertionError("the pages never ended")

    everything = await every_page(currency="CHF")
    assert len(everything) == len(set(everything))
    assert everything == sorted(everything, reverse=True)  # newest product, newest version
    ours = [
        (product_id_of(loan), 1),
        (product_id_of(made[2]), 1),
        (product_id_of(made[1]), 1),
        (product_id_of(made[0]), 2),
        (product_id_of(made[0]), 1),
    ]
    assert [entry for entry in everything if entry in ours] == ours

    deposits = await every_page(currency="CHF", kind=ProductKind.DEPOSIT)
    assert (product_id_of(loan), 1) not in deposits
    assert set(ours[1:]) <= set(deposits)
    active = await every_page(currency="CHF", status=ProductStatus.ACTIVE)
    assert [entry for entry in active if entry in ours] == [(product_id_of(made[1]), 1)]
    assert await bank.products.list(ProductQuery(limit=5, currency="XTS")) == []


async def test_list_pages_are_bounded(bank):
    for n in range(3):
        await create_product(bank, currency="SEK", name=f"Saver {n}")
    assert len(await bank.products.list(ProductQuery(limit=0, currency="SEK"))) == 1


# --- accounts opened from a product ---------------------------------------------------------


async def test_accounts_keep_the_version_they_were_opened_under(bank):
    first = await create_product(bank, active=True)
    product_id = product_id_of(first)
    early = await open_from(bank, product_id)
    assert (early.product, early.product_id, early.product_version) == (
        ProductType.SAVINGS,
        product_id,
        1,
    )

    await revise_product(bank, first, kind=DepositKind.CHECKING)
    await bank.products.activate(product_id, 2, CONTEXT)
    late = await open_from(bank, product_id)

    assert (late.product, late.product_version) == (ProductType.CHECKING, 2)
    stored = await bank.accounts.get(early.id)
    assert (stored.product, stored.product_id, stored.product_version) == (
        ProductType.SAVINGS,
        product_id,
        1,
    )
    assert (await bank.products.get(product_id, 1)).product.status is ProductStatus.RETIRED


async def test_opening_from_a_product_is_audited_with_the_version(bank):
    record = await create_product(bank, active=True)
    account = await open_from(bank, product_id_of(record))
    events = await bank.audit_trail.events(
        AuditQuery(limit=5, entity_type="account", entity_id=str(account.id))
    )
    assert json.loads(events[0].payload)["details"] == {
        "customer_id": str(account.customer_id),
        "number": account.number,
        "currency": "USD",
        "product": "savings",
        "product_id": str(product_id_of(record)),
        "product_version": 1,
    }


async def test_opening_by_product_type_is_as_before(bank):
    customer = await new_customer(bank)
    account = await bank.accounts.open(
        OpenAccount(customer.id, ProductType.CHECKING, "USD", "Plain"), CONTEXT
    )
    assert (account.product, account.product_id, account.product_version) == (
        ProductType.CHECKING,
        None,
        None,
    )
    assert await bank.accounts.get(account.id) == account


async def _draft(bank: Nexum) -> UUID:
    return product_id_of(await create_product(bank))


async def _retired(bank: Nexum) -> UUID:
    record = await create_product(bank, active=True)
    await bank.products.retire(product_id_of(record), 1, CONTEXT)
    return product_id_of(record)


async def _of_kind(bank: Nexum, kind: ProductKind, terms: dict[str, Any]) -> UUID:
    return product_id_of(await create_product(bank, kind, terms=terms, active=True))


REFUSALS: list[tuple[str, Callable[[Nexum], Any], type[Exception], str]] = [
    ("draft", _draft, ProductNotActive, "product_not_active"),
    ("retired", _retired, ProductNotActive, "product_not_active"),
    (
        "loan",
        lambda bank: _of_kind(bank, ProductKind.TERM_LOAN, loan_terms()),
        WrongProductKind,
        "wrong_product_kind",
    ),
    (
        "credit line",
        lambda bank: _of_kind(bank, ProductKind.CREDIT_LINE, credit_line_terms()),
        WrongProductKind,
        "wrong_product_kind",
    ),
    (
        "term deposit",
        lambda bank: _of_kind(bank, ProductKind.DEPOSIT, term_deposit_terms()),
        WrongProductKind,
        "wrong_product_kind",
    ),
]


@pytest.mark.parametrize(("case", "make", "error", "code"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_opening_from_a_product_that_opens_no_account_is_refused(
    bank, case, make, error, code
):
    product_id = await make(bank)
    customer = await new_customer(bank)
    before = len(await bank.customers.accounts(customer.id))
    with pytest.raises(error) as refused:
        await bank.accounts.open(
            OpenAccount(customer.id, None, "USD", "Refused", product_id=product_id), CONTEXT
        )
    assert refused.value.code == code
    assert refused.value.context["product_id"] == str(product_id)
    assert len(await bank.customers.accounts(customer.id)) == before == 0


async def test_opening_from_a_product_in_another_currency_is_refused(bank):
    record = await create_product(bank, currency="EUR", active=True)
    with pytest.raises(CurrencyMismatch, match="EUR"):
        await open_from(bank, product_id_of(record), "USD")


async def test_opening_names_a_product_type_or_a_product(bank):
    record = await create_product(bank, active=True)
    customer = await new_customer(bank)
    for product, product_id in ((ProductType.SAVINGS, product_id_of(record)), (None, None)):
        with pytest.raises(InvalidInput, match="either"):
            await bank.accounts.open(
                OpenAccount(customer.id, product, "USD", "Ambiguous", product_id=product_id),
                CONTEXT,
            )
    with pytest.raises(NotFound):
        await open_from(bank, UUID(int=99))


# --- what the database enforces -------------------------------------------------------------


async def _run(storage: Storage, *statements: Any) -> None:
    async def work(uow: Any) -> None:
        for statement in statements:
            await uow.connection.execute(statement)

    await storage.atomically(work)


async def test_the_database_keeps_one_active_version_per_product(bank, storage):
    record = await create_product(bank, active=True)
    await revise_product(bank, record)
    make_second_active = (
        update(products)
        .where(products.c.product_id == product_id_of(record), products.c.version == 2)
        .values(status="active")
    )
    with pytest.raises(IntegrityError):
        await _run(storage, make_second_active)
    assert await statuses(bank, product_id_of(record), 2) == [
        ProductStatus.ACTIVE,
        ProductStatus.DRAFT,
    ]


async def test_an_account_points_at_an_existing_version_with_both_columns(bank, storage):
    record = await create_product(bank, active=True)
    account = await open_from(bank, product_id_of(record))
    where = accounts.c.id == account.id
    for values in (
        {"product_version": None},  # half a reference
        {"product_id": None},
        {"product_version": 2},  # a version that does not exist
    ):
        with pytest.raises(IntegrityError):
            await _run(storage, update(accounts).where(where).values(**values))
    assert await bank.accounts.get(account.id) == account


# --- concurrency ----------------------------------------------------------------------------


async def test_concurrent_revisions_take_distinct_versions_and_one_activation_wins(bank):
    record = await create_product(bank, active=True)
    product_id = product_id_of(record)

    revised = await asyncio.gather(*(revise_product(bank, record) for _ in range(4)))
    assert sorted(r.product.version for r in revised) == [2, 3, 4, 5]

    activated = await asyncio.gather(
        *(bank.products.activate(product_id, version, CONTEXT) for version in (2, 3, 4, 5))
    )
    assert all(r.product.status is ProductStatus.ACTIVE for r in activated)
    final = await statuses(bank, product_id, 5)
    assert final.count(ProductStatus.ACTIVE) == 1
    assert final.count(ProductStatus.RETIRED) == 4


# --- migration 0004 over a ledger that holds money ------------------------------------------


@pytest.fixture
def own_url(backend: str, request: pytest.FixtureRequest) -> str:
    """An empty database of this test's own, on the backend under test."""
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    )
    return url


async def _ledger_rows(storage: Storage) -> tuple[list[Any], list[Any]]:
    async def read(uow: Any) -> tuple[list[Any], list[Any]]:
        account_rows = await uow.connection.execute(
            select(accounts.c.id, accounts.c.number, accounts.c.product, accounts.c.posted_minor)
            .where(accounts.c.kind == "deposit")
            .order_by(accounts.c.id)
        )
        lines = await uow.connection.execute(select(func.count()).select_from(journal_lines))
        return [tuple(row) for row in account_rows], [tuple(row) for row in lines]

    return await storage.read(read)


async def test_migrating_0004_down_and_up_keeps_accounts_and_their_history(own_url, backend):
    migrate(own_url)
    bank = build(settings_for(own_url), clock=FakeClock())
    try:
        record = await create_product(bank, active=True)
        opened = [await open_from(bank, product_id_of(record))]
        customer = await new_customer(bank)
        opened.append(
            await bank.accounts.open(
                OpenAccount(customer.id, ProductType.CHECKING, "USD", "Plain"), CONTEXT
            )
        )
        for account in opened:
            await bank.ledger.deposit(Deposit(account.id, money("125.00"), key()), CONTEXT)
        await bank.holds.place(PlaceHold(opened[0].id, money("10.00"), key()), CONTEXT)
        before = await _ledger_rows(bank.storage)
    finally:
        await bank.aclose()

    manager = MigrationManager(own_url)
    from_products_on = list(REVISIONS[REVISIONS.index("0004_products") :])
    assert manager.migrate_down("0003_event_outbox") == from_products_on[::-1]
    assert manager.migrate_up() == from_products_on

    bank = build(settings_for(own_url), clock=FakeClock())
    try:
        assert await _ledger_rows(bank.storage) == before
        assert (await verify_ledger(bank.storage)).violations == []
        if backend == "sqlite":
            dangling = await bank.storage.read(
                lambda uow: uow.connection.execute(text("PRAGMA foreign_key_check"))
            )
            assert dangling.all() == []
        # the product columns came back empty: the catalogue went with the step down
        assert (await bank.accounts.get(opened[0].id)).product_id is None
        assert await bank.products.list(ProductQuery(limit=10)) == []
        again = await create_product(bank, active=True)
        assert (await open_from(bank, product_id_of(again))).product_version == 1
        await bank.ledger.deposit(Deposit(opened[1].id, money("1.00"), key()), CONTEXT)
        assert (await bank.accounts.get(opened[1].id)).posted_minor == 126_00
    finally:
        await bank.aclose()


async def test_the_migrated_products_table_refuses_version_zero(bank, storage):
    record = await create_product(bank)
    row = await storage.read(
        lambda uow: uow.connection.execute(
            select(products).where(products.c.product_id == product_id_of(record))
        )
    )
    values = dict(row.one()._mapping)
    with pytest.raises(IntegrityError):
        await _run(storage, insert(products).values({**values, "version": 0}))
