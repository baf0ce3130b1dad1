"""The product catalogue: creating products, revising them as new versions, activating and
retiring versions, reading them.

A product's versions change under a lock on the product, so two revisions never take the
same number and two activations never leave two versions active. At most one version is
active: activating one retires the version that was active, in the same transaction.
Every change is in the audit trail with the version it concerns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from core_banking.domain.audit import AuditRecord
from core_banking.domain.commands import RequestContext
from core_banking.domain.customers import clean_name
from core_banking.domain.errors import InvalidInput, NotFound
from core_banking.domain.ids import uuid7
from core_banking.domain.lending.catalog import (
    IDENTITY_FIELDS,
    ProductKind,
    ProductRecord,
    new_product,
)
from core_banking.domain.lending.products import activate, retire, revise
from core_banking.domain.money import currency
from core_banking.ports import Clock, LedgerStore, ProductQuery, UnitOfWork
from core_banking.services.auditing import audit_record
from core_banking.services.postings import claim_for

MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class CreateProduct:
    """A new product, version 1, a draft. ``terms`` are every field of the product's
    dataclass but its identity (id, version, status, name, currency), as domain values."""

    kind: ProductKind
    name: str
    currency: str
    terms: Mapping[str, Any]
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class ReviseProduct:
    """The next version of a product, a draft, with these name and terms (its kind and
    currency never change)."""

    product_id: UUID
    kind: ProductKind
    name: str
    terms: Mapping[str, Any]


class ProductService:
    def __init__(self, store: LedgerStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def create(self, command: CreateProduct, context: RequestContext) -> ProductRecord:
        product = new_product(
            command.kind,
            product_id=uuid7(),
            name=clean_name(command.name, "name"),
            currency=currency(command.currency),
            terms=command.terms,
        )
        claim = (
            claim_for("product_create", command, context, product.product_id)
            if command.idempotency_key is not None
            else None
        )

        async def work(uow: UnitOfWork) -> ProductRecord:
            now = self._clock.now()
            if claim is not None:
                existing = await uow.idempotency.claim(claim, now)
                if existing is not None:
                    return await _version(uow, existing, 1)
            record = ProductRecord(
                product, created_at=now, created_by=context.actor, updated_at=now
            )
            await uow.products.insert(record)
            await uow.audit.append(
                _audit(
                    context,
                    now,
                    "product.created",
                    record,
                    kind=command.kind.value,
                    currency=product.currency.code,
                )
            )
            return record

        return await self._store.atomically(work)

    async def revise(self, command: ReviseProduct, context: RequestContext) -> ProductRecord:
        """The next version, numbered after the latest, made from the newest version still
        in use (a draft or the active one: a draft retired as abandoned is passed over). A
        product whose versions are all retired is closed."""
        name = clean_name(command.name, "name")
        fixed = sorted(IDENTITY_FIELDS & command.terms.keys())
        if fixed:
            raise InvalidInput(f"a revision's terms cannot set {fixed[0]}", field=fixed[0])

        async def work(uow: UnitOfWork) -> ProductRecord:
            now = self._clock.now()
            await uow.products.lock(command.product_id)
            latest = await _latest(uow, command.product_id)
            # every version retired: the latest is the base, and revise() refuses it
            base = await uow.products.latest(command.product_id, in_use=True) or latest
            if command.kind is not base.kind:
                raise InvalidInput(
                    f"this is a {base.kind} product; a revision cannot change its kind",
                    field="kind",
                )
            product = replace(
                revise(base.product, name=name, **command.terms),
                version=latest.product.version + 1,
            )
            record = ProductRecord(
                product, created_at=now, created_by=context.actor, updated_at=now
            )
            await uow.products.insert(record)
            await uow.audit.append(
                _audit(context, now, "product.revised", record, revised_from=base.product.version)
            )
            return record

        return await self._store.atomically(work)

    async def activate(
        self, product_id: UUID, version: int, context: RequestContext
    ) -> ProductRecord:
        """Make a draft version the one that opens accounts and loans; the version active
        until now is retired (its accounts keep it)."""

        async def work(uow: UnitOfWork) -> ProductRecord:
            now = self._clock.now()
            await uow.products.lock(product_id)
            chosen = await _version(uow, product_id, version)
            activated = activate(chosen.product)
            previous = await uow.products.active(product_id)
            if previous is not None:
                retired = retire(previous.product)
                await uow.products.set_status(product_id, retired.version, retired.status, now)
                await uow.audit.append(
                    _audit(
                        context,
                        now,
                        "product.retired",
                        replace(previous, product=retired),
                        replaced_by=version,
                    )
                )
            await uow.products.set_status(product_id, version, activated.status, now)
            record = replace(chosen, product=activated, updated_at=now)
            await uow.audit.append(_audit(context, now, "product.activated", record))
            return record

        return await self._store.atomically(work)

    async def retire(
        self, product_id: UUID, version: int, context: RequestContext
    ) -> ProductRecord:
        """Retire a version: it opens nothing more; accounts opened under it keep it. A
        draft retired is a draft abandoned."""

        async def work(uow: UnitOfWork) -> ProductRecord:
            now = self._clock.now()
            await uow.products.lock(product_id)
            chosen = await _version(uow, product_id, version)
            record = replace(chosen, product=retire(chosen.product), updated_at=now)
            await uow.products.set_status(product_id, version, record.product.status, now)
            await uow.audit.append(_audit(context, now, "product.retired", record))
            return record

        return await self._store.atomically(work)

    async def get(self, product_id: UUID, version: int | None = None) -> ProductRecord:
        """One version of a product; its latest when ``version`` is None."""
        if version is None:
            return await self._store.read(lambda uow: _latest(uow, product_id))
        return await self._store.read(lambda uow: _version(uow, product_id, version))

    async def list(self, query: ProductQuery) -> list[ProductRecord]:
        bounded = replace(query, limit=min(max(query.limit, 1), MAX_PAGE))
        # a list may be a moment behind: a replica serves it (one product by id is read on
        # the primary, right after it is created or changed)
        return await self._store.read_replica(lambda uow: uow.products.list(bounded))


def _audit(
    context: RequestContext, now: datetime, action: str, record: ProductRecord, **details: Any
) -> AuditRecord:
    product = record.product
    return audit_record(
        context,
        now,
        action,
        "product",
        product.product_id,
        {"version": product.version, "name": product.name, **details},
    )


async def _latest(uow: UnitOfWork, product_id: UUID) -> ProductRecord:
    record = await uow.products.latest(product_id)
    if record is None:
        raise NotFound("no such product", product_id=str(product_id))
    return record


async def _version(uow: UnitOfWork, product_id: UUID, version: int) -> ProductRecord:
    record = await uow.products.get(product_id, version)
    if record is None:
        raise NotFound("no such product version", product_id=str(product_id), version=version)
    return record
