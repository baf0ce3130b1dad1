"""Customers: creating them and changing their status."""

from __future__ import annotations

from uuid import UUID

from core_banking.domain.commands import CreateCustomer, RequestContext
from core_banking.domain.customers import (
    Customer,
    CustomerStatus,
    check_customer_transition,
    clean_email,
    clean_name,
    clean_phone,
)
from core_banking.domain.errors import InvariantViolation, NotFound
from core_banking.domain.ids import uuid7
from core_banking.ports import Clock, LedgerStore, UnitOfWork
from core_banking.services.auditing import audit_record
from core_banking.services.postings import claim_for


class CustomerService:
    def __init__(self, store: LedgerStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def create(self, command: CreateCustomer, context: RequestContext) -> Customer:
        given_name = clean_name(command.given_name, "given_name")
        family_name = clean_name(command.family_name, "family_name")
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
