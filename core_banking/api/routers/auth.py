"""/auth: first set-up, login and logout, who am I, users, roles and API keys."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from core_banking.api.problems import common_statuses, responses
from core_banking.api.schemas.auth import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyOut,
    LoginRequest,
    LoginResponse,
    MeOut,
    RoleIn,
    RoleOut,
    SetupRequest,
    UserCreate,
    UserOut,
    UserUpdate,
    parse_limit,
)
from core_banking.api.schemas.common import Page, decode_cursor, encode_cursor
from core_banking.api.security import (
    AUTHENTICATED,
    BankDep,
    Requires,
    context_of,
    limit_auth_attempts,
)
from core_banking.domain.security import Permission, Principal
from core_banking.domain.users import Role
from core_banking.services.auth import NewApiKey, NewUser, UserChanges

router = APIRouter(prefix="/auth", tags=["authentication"])

PAGE_LIMIT = 100


@router.post(
    "/setup",
    operation_id="auth_setup",
    summary="Create the first administrator (refused once any user exists)",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(limit_auth_attempts)],
    responses=responses(400, 409, 413, 422, 429, 500, 503),
)
async def setup(body: SetupRequest, request: Request, bank: BankDep) -> UserOut:
    user = await bank.auth.setup(
        NewUser(body.username, body.password, body.full_name, body.email),
        context_of(request),
    )
    return UserOut.of(user)


@router.post(
    "/login",
    operation_id="auth_login",
    summary="Exchange a username and password for an access token",
    dependencies=[Depends(limit_auth_attempts)],
    responses=responses(400, 401, 413, 422, 429, 500, 503),
)
async def login(body: LoginRequest, request: Request, bank: BankDep) -> LoginResponse:
    result = await bank.auth.login(body.username, body.password, context_of(request))
    return LoginResponse(
        access_token=result.access_token,
        expires_at=result.expires_at,
        session_id=result.session_id,
        user_id=result.user.id,
        roles=list(result.user.roles),
    )


@router.post(
    "/logout",
    operation_id="auth_logout",
    summary="End this session: its token stops working at once",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*common_statuses()),
)
async def logout(
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(AUTHENTICATED))],
) -> Response:
    await bank.auth.logout(principal, context_of(request, principal))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me",
    operation_id="auth_me",
    summary="Who this token or key belongs to, and what it may do",
    responses=responses(*common_statuses()),
)
async def me(principal: Annotated[Principal, Depends(Requires(AUTHENTICATED))]) -> MeOut:
    return MeOut.of(principal)


@router.get(
    "/users",
    operation_id="users_list",
    summary="Users, a page at a time",
    responses=responses(*common_statuses()),
)
async def list_users(
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.USERS_READ))],
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[UserOut]:
    users = await bank.auth.users(limit, decode_cursor(cursor, UUID))
    return Page(
        items=[UserOut.of(user) for user in users],
        next_cursor=encode_cursor(str(users[-1].id)) if len(users) == limit else None,
    )


@router.post(
    "/users",
    operation_id="users_create",
    summary="Create a user with roles",
    status_code=status.HTTP_201_CREATED,
    responses=responses(*common_statuses(409)),
)
async def create_user(
    body: UserCreate,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.USERS_WRITE))],
) -> UserOut:
    user = await bank.auth.create_user(
        NewUser(body.username, body.password, body.full_name, body.email, tuple(body.roles)),
        context_of(request, principal),
    )
    return UserOut.of(user)


@router.get(
    "/users/{user_id}",
    operation_id="users_get",
    summary="One user",
    responses=responses(*common_statuses(404)),
)
async def get_user(
    user_id: UUID,
    bank: BankDep,
    _: Annotated[Principal, Depends(Requires(Permission.USERS_READ))],
) -> UserOut:
    return UserOut.of(await bank.auth.user(user_id))


@router.patch(
    "/users/{user_id}",
    operation_id="users_update",
    summary="Change a user's details, status, roles or password (sessions end on a change of "
    "status, roles or password)",
    responses=responses(*common_statuses(404)),
)
async def update_user(
    user_id: UUID,
    body: UserUpdate,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.USERS_WRITE))],
) -> UserOut:
    user = await bank.auth.update_user(
        user_id,
        UserChanges(
            full_name=body.full_name,
            email=body.email,
            status=body.status,
            roles=tuple(body.roles) if body.roles is not None else None,
            password=body.password,
        ),
        context_of(request, principal),
    )
    return UserOut.of(user)


@router.post(
    "/users/{user_id}/revoke-sessions",
    operation_id="users_revoke_sessions",
    summary="End every session of a user at once",
    responses=responses(*common_statuses(404)),
)
async def revoke_sessions(
    user_id: UUID,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.USERS_WRITE))],
) -> dict[str, int]:
    ended = await bank.auth.revoke_sessions(user_id, context_of(request, principal))
    return {"sessions_ended": ended}


@router.get(
    "/roles",
    operation_id="roles_list",
    summary="Every role with its permissions and amount limit",
    responses=responses(*common_statuses()),
)
async def list_roles(
    bank: BankDep, _: Annotated[Principal, Depends(Requires(Permission.ROLES_READ))]
) -> list[RoleOut]:
    return [RoleOut.of(role) for role in await bank.auth.roles()]


@router.put(
    "/roles/{name}",
    operation_id="roles_save",
    summary="Create or replace a custom role (built-in roles are fixed)",
    responses=responses(*common_statuses()),
)
async def save_role(
    name: str,
    body: RoleIn,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.ROLES_WRITE))],
) -> RoleOut:
    role = await bank.auth.save_role(
        Role(
            name,
            body.description,
            frozenset(body.permissions),
            parse_limit(body.amount_limit),
            False,
        ),
        context_of(request, principal),
    )
    return RoleOut.of(role)


@router.delete(
    "/roles/{name}",
    operation_id="roles_delete",
    summary="Delete a custom role no user holds",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*common_statuses(404, 409)),
)
async def delete_role(
    name: str,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.ROLES_WRITE))],
) -> Response:
    await bank.auth.delete_role(name, context_of(request, principal))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api-keys",
    operation_id="api_keys_create",
    summary="Create an API key for a machine client (the key is shown once)",
    status_code=status.HTTP_201_CREATED,
    responses=responses(*common_statuses()),
)
async def create_api_key(
    body: ApiKeyCreate,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.API_KEYS_MANAGE))],
) -> ApiKeyIssued:
    issued = await bank.auth.create_api_key(
        NewApiKey(
            name=body.name,
            permissions=frozenset(body.permissions),
            amount_limit=parse_limit(body.amount_limit),
            expires_at=body.expires_at,
        ),
        principal,
        context_of(request, principal),
    )
    return ApiKeyIssued(**ApiKeyOut.of(issued.key).model_dump(), key=issued.secret)


@router.get(
    "/api-keys",
    operation_id="api_keys_list",
    summary="Every API key (never the secrets)",
    responses=responses(*common_statuses()),
)
async def list_api_keys(
    bank: BankDep, _: Annotated[Principal, Depends(Requires(Permission.API_KEYS_MANAGE))]
) -> list[ApiKeyOut]:
    return [ApiKeyOut.of(key) for key in await bank.auth.api_keys()]


@router.post(
    "/api-keys/{api_key_id}/revoke",
    operation_id="api_keys_revoke",
    summary="Revoke an API key: it stops working at once",
    responses=responses(*common_statuses(404)),
)
async def revoke_api_key(
    api_key_id: UUID,
    request: Request,
    bank: BankDep,
    principal: Annotated[Principal, Depends(Requires(Permission.API_KEYS_MANAGE))],
) -> ApiKeyOut:
    return ApiKeyOut.of(await bank.auth.revoke_api_key(api_key_id, context_of(request, principal)))
