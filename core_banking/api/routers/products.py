"""/products: the product catalogue. Create a product, revise it as a new version, activate
and retire versions, read and list them."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, status

from core_banking.api.idempotency import OptionalIdempotencyKey, idempotent
from core_banking.api.problems import common_statuses, responses
from core_banking.api.schemas.common import (
    CURRENCY_PATTERN,
    Page,
    decode_cursor,
    encode_cursor,
)
from core_banking.api.schemas.products import ProductCreate, ProductOut, ProductVersionIn
from core_banking.api.security import BankDep, Requires, context_of
from core_banking.domain.lending.catalog import ProductKind
from core_banking.domain.lending.products import MAX_VERSION, ProductStatus
from core_banking.domain.money import currency
from core_banking.domain.security import Permission, Principal
from core_banking.ports import ProductQuery
from core_banking.services.products import CreateProduct, ReviseProduct

router = APIRouter(prefix="/products", tags=["products"])

PAGE_LIMIT = 100

Version = Annotated[int, Path(ge=1, le=MAX_VERSION, description="1 for the first version.")]


def _position(value: Any) -> tuple[UUID, int]:
    """A list cursor back from the client: [product id, version]."""
    product_id, version = value
    if isinstance(version, bool) or not isinstance(version, int):
        raise TypeError("the cursor's version is not a whole number")
    return UUID(product_id), version


@router.post(
    "",
    operation_id="products_create",
    summary="Create a product: version 1, a draft",
    status_code=status.HTTP_201_CREATED,
    response_model=ProductOut,
    responses=responses(*common_statuses(409)),
)
async def create_product(
    body: Annotated[ProductCreate, Body(discriminator="kind")],
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.PRODUCTS_WRITE))],
    idempotency_key: OptionalIdempotencyKey = None,
) -> Response:
    async def produce() -> tuple[int, ProductOut]:
        record = await bank.products.create(
            CreateProduct(
                kind=body.kind,
                name=body.name,
                currency=body.currency,
                terms=body.definition.to_terms(currency(body.currency)),
                idempotency_key=idempotency_key,
            ),
            context_of(request, principal),
        )
        return status.HTTP_201_CREATED, ProductOut.of(record)

    return await idempotent(request, principal, idempotency_key, body, produce)


@router.get(
    "",
    operation_id="products_list",
    summary="Product versions by kind, status and currency, newest product first",
    responses=responses(*common_statuses()),
)
async def list_products(
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.PRODUCTS_READ))],
    kind: ProductKind | None = None,
    product_status: Annotated[
        ProductStatus | None,
        Query(alias="status", description="active: the versions that open accounts now."),
    ] = None,
    currency_code: Annotated[str | None, Query(alias="currency", pattern=CURRENCY_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[ProductOut]:
    records = await bank.products.list(
        ProductQuery(
            limit=limit,
            after=decode_cursor(cursor, _position),
            kind=kind,
            status=product_status,
            currency=currency_code,
        )
    )
    last = records[-1].product if records else None
    return Page(
        items=[ProductOut.of(record) for record in records],
        next_cursor=encode_cursor([str(last.product_id), last.version])
        if last is not None and len(records) == limit
        else None,
    )


@router.get(
    "/{product_id}",
    operation_id="products_get",
    summary="A product's latest version",
    responses=responses(*common_statuses(404)),
)
async def get_product(
    product_id: UUID,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.PRODUCTS_READ))],
) -> ProductOut:
    return ProductOut.of(await bank.products.get(product_id))


@router.get(
    "/{product_id}/versions/{version}",
    operation_id="products_get_version",
    summary="One version of a product",
    responses=responses(*common_statuses(404)),
)
async def get_product_version(
    product_id: UUID,
    version: Version,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.PRODUCTS_READ))],
) -> ProductOut:
    return ProductOut.of(await bank.products.get(product_id, version))


@router.post(
    "/{product_id}/versions",
    operation_id="products_revise",
    summary="Update a product: its next version, a draft, with this name and definition",
    status_code=status.HTTP_201_CREATED,
    responses=responses(*common_statuses(404)),
)
async def revise_product(
    product_id: UUID,
    body: Annotated[ProductVersionIn, Body(discriminator="kind")],
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.PRODUCTS_WRITE))],
) -> ProductOut:
    latest = await bank.products.get(product_id)  # for its currency, which never changes
    record = await bank.products.revise(
        ReviseProduct(
            product_id=product_id,
            kind=body.kind,
            name=body.name,
            terms=body.definition.to_terms(latest.product.currency),
        ),
        context_of(request, principal),
    )
    return ProductOut.of(record)


@router.post(
    "/{product_id}/versions/{version}/activate",
    operation_id="products_activate",
    summary="Activate a draft version; the version active until now is retired",
    responses=responses(*common_statuses(404)),
)
async def activate_product_version(
    product_id: UUID,
    version: Version,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.PRODUCTS_WRITE))],
) -> ProductOut:
    record = await bank.products.activate(product_id, version, context_of(request, principal))
    return ProductOut.of(record)


@router.post(
    "/{product_id}/versions/{version}/retire",
    operation_id="products_retire",
    summary="Retire a version: it opens nothing more; accounts opened under it keep it",
    responses=responses(*common_statuses(404)),
)
async def retire_product_version(
    product_id: UUID,
    version: Version,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.PRODUCTS_WRITE))],
) -> ProductOut:
    record = await bank.products.retire(product_id, version, context_of(request, principal))
    return ProductOut.of(record)
