"""Customers: creating them and changing their status."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import date
from uuid import UUID

from core_banking.domain.accounts import Account
from core_banking.domain.commands import CreateCustomer, RequestContext
from core_banking.domain.customers import (
    Customer,
    CustomerStatus,
    IdentityDocument,
    Kyc,
    KycStatus,
    check_customer_transition,
    check_kyc,
    clean_name,
)
from core_banking.domain.errors import (
    InvalidInput,
    InvariantViolation,
    NotFound,
)
from core_banking.domain.ids import uuid7
from core_banking.ports import Clock, CustomerQuery, LedgerStore, UnitOfWork
from core_banking.services.auditing import audit_record
from core_banking.services.contacts import clean_email, clean_phone
from core_banking.services.postings import claim_for

MAX_PAGE = 100
OLDEST_CUSTOMER_YEARS = 130


@dataclass(frozen=True, slots=True)
class CustomerChanges:
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    phone: str | None = None
    date_of_birth: date | None = None


def check_date_of_birth(born: date, today: date) -> date:
    """In the past, and not impossibly long ago."""
    if not date(today.year - OLDEST_CUSTOMER_YEARS, 1, 1) <= born < today:
        raise InvalidInput(
            "the date of birth is in the past, within living memory", field="date_of_birth"
        )
    return born


class CustomerService:
    def __init__(self, store: LedgerStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def create(self, command: CreateCustomer, context: RequestContext) -> Customer:
        given_name = clean_name(command.given_name, "given_name")
        family_name = clean_name(command.family_name, "family_name")
        date_of_birth = (
            check_date_of_birth(command.date_of_birth, self._clock.today())
            if command.date_of_birth is not None
            else None
        )
        email = clean_email(command.email)
        phone = clean_phone(command.phone)
        customer_id = uuid7()
        claim = (
            claim_for("customer_create", command, context, customer_id)
            if command.idempotency_key is not None
            else None
        )

        async def work(uow: UnitOfWork) -> Customer:
            now = self._clock.now()
            if claim is not None:
                existing = await uow.idempotency.claim(claim, now)
                if existing is not None:
                    return await _existing(uow, existing)
            customer = Customer(
                id=customer_id,
                given_name=given_name,
                family_name=family_name,
                email=email,
                phone=phone,
                status=CustomerStatus.ACTIVE,
                created_at=now,
                updated_at=now,
                date_of_birth=date_of_birth,
            )
            await uow.customers.insert(customer)
            await uow.audit.append(
                audit_record(context, now, "customer.created", "customer", customer.id, {})
            )
            return customer

        return await self._store.atomically(work)

    async def change_status(
        self, customer_id: UUID, status: CustomerStatus, reason: str, context: RequestContext
    ) -> Customer:
        async def work(uow: UnitOfWork) -> Customer:
            now = self._clock.now()
            customer = await uow.customers.lock(customer_id)
            check_customer_transition(customer.status, status)
            await uow.customers.set_status(customer_id, status, now)
            await uow.audit.append(
                audit_record(
                    context,
                    now,
                    "customer.status_changed",
                    "customer",
                    customer_id,
                    {"from": customer.status.value, "to": status.value, "reason": reason},
                )
            )
            return await _existing(uow, customer_id)

        return await self._store.atomically(work)

    async def update(
        self, customer_id: UUID, changes: CustomerChanges, context: RequestContext
    ) -> Customer:
        """Change names, contact details or date of birth; only the fields given."""
        values: dict[str, object] = {}
        if changes.given_name is not None:
            values["given_name"] = clean_name(changes.given_name, "given_name")
        if changes.family_name is not None:
            values["family_name"] = clean_name(changes.family_name, "family_name")
        if changes.email is not None:
            values["email"] = clean_email(changes.email)
        if changes.phone is not None:
            values["phone"] = clean_phone(changes.phone)
        if changes.date_of_birth is not None:
            values["date_of_birth"] = check_date_of_birth(
                changes.date_of_birth, self._clock.today()
            )

        async def work(uow: UnitOfWork) -> Customer:
            now = self._clock.now()
            customer = await uow.customers.lock(customer_id)
            customer.check_changeable()
            changed = replace(customer, updated_at=now, **values)  # type: ignore[arg-type]
            await uow.customers.update(changed)
            await uow.audit.append(
                audit_record(
                    context,
                    now,
                    "customer.updated",
                    "customer",
                    customer_id,
                    {"fields": sorted(values)},
                )
            )
            return changed

        return await self._store.atomically(work)

    async def set_kyc(
        self,
        customer_id: UUID,
        status: KycStatus,
        tier: int,
        documents: tuple[IdentityDocument, ...],
        context: RequestContext,
    ) -> Customer:
        """Record the outcome of a know-your-customer review."""
        check_kyc(status, tier, documents, self._clock.today())

        async def work(uow: UnitOfWork) -> Customer:
            now = self._clock.now()
            customer = await uow.customers.lock(customer_id)
            customer.check_changeable()
            changed = replace(
                customer,
                kyc=Kyc(status=status, tier=tier, documents=documents, updated_at=now),
                updated_at=now,
            )
            await uow.customers.update(changed)
            await uow.audit.append(
                audit_record(
                    context,
                    now,
                    "customer.kyc_updated",
                    "customer",
                    customer_id,
                    {
                        "status": status.value,
                        "tier": tier,
                        "documents": [document.kind.value for document in documents],
                    },
                )
            )
            return changed

        return await self._store.atomically(work)

    async def search(self, query: CustomerQuery) -> list[Customer]:
        """Customers by status, KYC status, exact email or phone, or the words of a name."""
        checked = replace(
            query,
            limit=min(max(query.limit, 1), MAX_PAGE),
            email=clean_email(query.email) if query.email else None,
            phone=clean_phone(query.phone) if query.phone else None,
        )
        # a search may be a moment behind: a replica serves it (one customer by id is read
        # on the primary, right after it is created or changed)
        return await self._store.read_replica(lambda uow: uow.customers.search(checked))

    async def accounts(self, customer_id: UUID) -> list[Account]:
        await self.get(customer_id)
        return await self._store.read(lambda uow: uow.accounts.of_customer(customer_id))

    async def reencrypt_all(self, batch_size: int = 500) -> int:
        """Write every customer's personal data again with the current key and recompute
        the blind indexes (``nexum keys rotate``); batches of ``batch_size``, one transaction
        each. Returns how many customers were rewritten."""
        total = 0
        after: UUID | None = None
        while True:
            page = await self._store.atomically(
                functools.partial(_rewrite_page, CustomerQuery(limit=batch_size, after=after))
            )
            total += len(page)
            if len(page) < batch_size:
                return total
            after = page[-1].id

    async def get(self, customer_id: UUID) -> Customer:
        customer = await self._store.read(lambda uow: uow.customers.get(customer_id))
        if customer is None:
            raise NotFound("no such customer", customer_id=str(customer_id))
        return customer


async def _existing(uow: UnitOfWork, customer_id: UUID) -> Customer:
    customer = await uow.customers.get(customer_id)
    if customer is None:
        raise InvariantViolation("customer vanished", customer_id=customer_id)
    return customer


async def _rewrite_page(query: CustomerQuery, uow: UnitOfWork) -> list[Customer]:
    page = await uow.customers.search(query)
    for customer in page:
        await uow.customers.update(customer)
    return page
