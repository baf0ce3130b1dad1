"""/customers: create, find, read and update customers, their KYC, their accounts."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from core_banking.api.idempotency import OptionalIdempotencyKey, idempotent
from core_banking.api.problems import common_statuses, responses
from core_banking.api.schemas.accounts import AccountOut
from core_banking.api.schemas.common import Page, decode_cursor, encode_cursor
from core_banking.api.schemas.customers import (
    CustomerCreate,
    CustomerOut,
    CustomerUpdate,
    KycUpdate,
)
from core_banking.api.security import BankDep, Requires, context_of
from core_banking.domain.commands import CreateCustomer
from core_banking.domain.customers import CustomerStatus, KycStatus
from core_banking.domain.security import Permission, Principal
from core_banking.ports import CustomerQuery
from core_banking.services.customers import CustomerChanges

router = APIRouter(prefix="/customers", tags=["customers"])

PAGE_LIMIT = 100


@router.post(
    "",
    operation_id="customers_create",
    response_model=CustomerOut,
    summary="Create a customer",
    status_code=status.HTTP_201_CREATED,
    responses=responses(*common_statuses(409)),
)
async def create_customer(
    body: CustomerCreate,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.CUSTOMERS_WRITE))],
    idempotency_key: OptionalIdempotencyKey = None,
) -> Response:
    async def produce() -> tuple[int, CustomerOut]:
        customer = await bank.customers.create(
            CreateCustomer(
                given_name=body.given_name,
                family_name=body.family_name,
                email=body.email,
                phone=body.phone,
                date_of_birth=body.date_of_birth,
                idempotency_key=idempotency_key,
            ),
            context_of(request, principal),
        )
        return status.HTTP_201_CREATED, CustomerOut.of(customer)

    return await idempotent(request, principal, idempotency_key, body, produce)


@router.get(
    "",
    operation_id="customers_list",
    summary="Find customers: by the words of a name, exact email or phone, status, KYC status",
    responses=responses(*common_statuses()),
)
async def list_customers(
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.CUSTOMERS_READ))],
    name: Annotated[str | None, Query(max_length=200, description="Every word must match.")] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    phone: Annotated[str | None, Query(max_length=32)] = None,
    customer_status: Annotated[CustomerStatus | None, Query(alias="status")] = None,
    kyc_status: KycStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[CustomerOut]:
    customers = await bank.customers.search(
        CustomerQuery(
            limit=limit,
            after=decode_cursor(cursor, UUID),
            status=customer_status,
            kyc_status=kyc_status,
            email=email,
            phone=phone,
            name=name,
        )
    )
    return Page(
        items=[CustomerOut.of(customer) for customer in customers],
        next_cursor=encode_cursor(str(customers[-1].id)) if len(customers) == limit else None,
    )


@router.get(
    "/{customer_id}",
    operation_id="customers_get",
    summary="One customer",
    responses=responses(*common_statuses(404)),
)
async def get_customer(
    customer_id: UUID,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.CUSTOMERS_READ))],
) -> CustomerOut:
    return CustomerOut.of(await bank.customers.get(customer_id))


@router.patch(
    "/{customer_id}",
    operation_id="customers_update",
    summary="Change a customer's names, contact details, date of birth or status",
    responses=responses(*common_statuses(404)),
)
async def update_customer(
    customer_id: UUID,
    body: CustomerUpdate,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.CUSTOMERS_WRITE))],
) -> CustomerOut:
    context = context_of(request, principal)
    customer = await bank.customers.update(
        customer_id,
        CustomerChanges(
            given_name=body.given_name,
            family_name=body.family_name,
            email=body.email,
            phone=body.phone,
            date_of_birth=body.date_of_birth,
        ),
        context,
    )
    if body.status is not None and body.status is not customer.status:
        customer = await bank.customers.change_status(
            customer_id, body.status, "changed through the API", context
        )
    return CustomerOut.of(customer)


@router.put(
    "/{customer_id}/kyc",
    operation_id="customers_set_kyc",
    summary="Record a know-your-customer review: status, tier and documents",
    responses=responses(*common_statuses(404)),
)
async def set_kyc(
    customer_id: UUID,
    body: KycUpdate,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.CUSTOMERS_KYC))],
) -> CustomerOut:
    customer = await bank.customers.set_kyc(
        customer_id,
        body.status,
        body.tier,
        tuple(document.to_document() for document in body.documents),
        context_of(request, principal),
    )
    return CustomerOut.of(customer)


@router.get(
    "/{customer_id}/accounts",
    operation_id="customers_accounts",
    summary="A customer's accounts with their balances",
    responses=responses(*common_statuses(404)),
)
async def customer_accounts(
    customer_id: UUID,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.ACCOUNTS_READ))],
) -> list[AccountOut]:
    return [AccountOut.of(account) for account in await bank.customers.accounts(customer_id)]
