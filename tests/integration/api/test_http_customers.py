"""/customers over HTTP: create, read, update, search and page, KYC, a customer's accounts.

Every test makes its own customers, with a surname no other test uses, so searches are
scoped to them whatever else the database holds.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from typing import Any

import pytest

from support.api import Api, key
from support.problems import assert_problem, field_errors

pytestmark = pytest.mark.http


def surname() -> str:
    """A word no other customer has: one \\w+ token, so name search treats it as one word."""
    return f"Zed{uuid.uuid4().hex[:12]}"


def london_phone() -> tuple[str, str]:
    """A valid London number as a person writes it, and its E.164 form."""
    exchange, line = random.randrange(1000), random.randrange(10000)
    return f"+44 (20) 7{exchange:03d}-{line:04d}", f"+44207{exchange:03d}{line:04d}"


async def search(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = await api.http.get("/customers", headers=await api.admin(), params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- create -------------------------------------------------------------------------------


async def test_create_returns_the_customer_with_normalised_contact_details(api: Api) -> None:
    family = surname()
    written, e164 = london_phone()
    response = await api.http.post(
        "/customers",
        headers=await api.admin(),
        json={
            "given_name": "  Ada ",
            "family_name": family,
            "email": "  Ada.Lovelace@Analytical.EXAMPLE.com ",
            "phone": written,
            "date_of_birth": "1990-12-10",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["given_name"] == "Ada"
    assert body["family_name"] == family
    assert body["email"] == "Ada.Lovelace@analytical.example.com"
    assert body["phone"] == e164
    assert body["date_of_birth"] == "1990-12-10"
    assert body["status"] == "active"
    assert body["kyc"] == {"status": "pending", "tier": 0, "documents": [], "updated_at": None}
    assert body["created_at"] == body["updated_at"]
    assert body["created_at"].endswith("Z")
    uuid.UUID(body["customer_id"])


async def test_create_with_only_names_leaves_contact_details_empty(api: Api) -> None:
    body = await api.customer(given_name="Grace", family_name="Hopper")
    assert (body["email"], body["phone"], body["date_of_birth"]) == (None, None, None)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": "ada@"}, "email"),
        ({"phone": "020 7946 0958"}, "phone"),  # no country code
        ({"phone": "+44 20 7946"}, "phone"),  # too short for the UK
        ({"given_name": "   "}, "given_name"),
        ({"family_name": "Love\u0000lace"}, "family_name"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1800-01-01"}, "date_of_birth"),
    ],
)
async def test_create_refuses_invalid_values_naming_the_field(
    api: Api, fields: dict[str, str], field: str
) -> None:
    response = await api.http.post(
        "/customers",
        headers=await api.admin(),
        json={"given_name": "Ada", "family_name": "Lovelace", **fields},
    )
    body = assert_problem(response, 422, "invalid_input")
    assert body["context"]["field"] == field


async def test_create_refuses_unknown_fields(api: Api) -> None:
    response = await api.http.post(
        "/customers",
        headers=await api.admin(),
        json={"given_name": "Ada", "family_name": "Lovelace", "nickname": "Countess"},
    )
    assert_problem(response, 422, "validation_failed")
    assert field_errors(response) == {"body.nickname"}


async def test_create_refuses_names_longer_than_200_characters(api: Api) -> None:
    response = await api.http.post(
        "/customers",
        headers=await api.admin(),
        json={"given_name": "A" * 201, "family_name": "B" * 201},
    )
    assert_problem(response, 422, "validation_failed")
    assert field_errors(response) == {"body.given_name", "body.family_name"}
    exactly = await api.customer(given_name="A" * 200, family_name=surname())
    assert exactly["given_name"] == "A" * 200


async def test_create_refuses_missing_names(api: Api) -> None:
    response = await api.http.post("/customers", headers=await api.admin(), json={})
    assert_problem(response, 422, "validation_failed")
    assert field_errors(response) == {"body.given_name", "body.family_name"}


async def test_create_needs_customers_write(api: Api) -> None:
    response = await api.http.post(
        "/customers",
        headers=await api.as_role("auditor"),
        json={"given_name": "Ada", "family_name": "Lovelace"},
    )
    body = assert_problem(response, 403, "forbidden")
    assert body["context"] == {"permission": "customers:write"}


async def test_create_with_an_idempotency_key_is_replayed(api: Api) -> None:
    headers = {**await api.admin(), "Idempotency-Key": key()}
    body = {"given_name": "Ada", "family_name": surname()}
    first = await api.http.post("/customers", headers=headers, json=body)
    second = await api.http.post("/customers", headers=headers, json=body)
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert len(await search(api, name=body["family_name"])) == 1

    other = await api.http.post(
        "/customers", headers=headers, json={**body, "given_name": "Augusta"}
    )
    assert_problem(other, 422, "idempotency_key_reused")
    assert len(await search(api, name=body["family_name"])) == 1


async def test_create_without_an_idempotency_key_makes_a_new_customer_each_time(
    api: Api,
) -> None:
    family = surname()
    first = await api.customer(family_name=family)
    second = await api.customer(family_name=family)
    assert first["customer_id"] != second["customer_id"]
    assert len(await search(api, name=family)) == 2


# --- read ---------------------------------------------------------------------------------


async def test_get_returns_what_create_returned(api: Api) -> None:
    created = await api.customer(family_name=surname(), email="grace@example.org")
    response = await api.http.get(
        f"/customers/{created['customer_id']}", headers=await api.as_role("auditor")
    )
    assert response.status_code == 200
    assert response.json() == created


async def test_get_unknown_customer_is_404(api: Api) -> None:
    missing = uuid.uuid4()
    response = await api.http.get(f"/customers/{missing}", headers=await api.admin())
    body = assert_problem(response, 404, "not_found")
    assert body["context"] == {"customer_id": str(missing)}


async def test_get_with_a_malformed_id_is_422(api: Api) -> None:
    response = await api.http.get("/customers/not-a-uuid", headers=await api.admin())
    assert_problem(response, 422, "validation_failed")
    assert field_errors(response) == {"path.customer_id"}


# --- update -------------------------------------------------------------------------------


async def test_patch_changes_only_the_fields_given(api: Api) -> None:
    created = await api.customer(family_name=surname(), email="ada@example.com")
    written, e164 = london_phone()
    response = await api.http.patch(
        f"/customers/{created['customer_id']}",
        headers=await api.admin(),
        json={"phone": written},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["phone"] == e164
    assert body["email"] == "ada@example.com"
    assert body["given_name"] == created["given_name"]
    assert body["family_name"] == created["family_name"]
    assert body["status"] == "active"
    assert body["created_at"] == created["created_at"]
    assert datetime.fromisoformat(body["updated_at"]) > datetime.fromisoformat(
        created["updated_at"]
    )

    renamed = await api.http.patch(
        f"/customers/{created['customer_id']}",
        headers=await api.admin(),
        json={"given_name": "Augusta", "email": "Augusta@EXAMPLE.com"},
    )
    assert renamed.status_code == 200
    assert renamed.json()["given_name"] == "Augusta"
    assert renamed.json()["email"] == "Augusta@example.com"
    assert renamed.json()["phone"] == e164
    fetched = await api.http.get(f"/customers/{created['customer_id']}", headers=await api.admin())
    assert fetched.json() == renamed.json()


async def test_patch_refuses_invalid_values(api: Api) -> None:
    created = await api.customer(family_name=surname())
    url = f"/customers/{created['customer_id']}"
    bad_email = await api.http.patch(url, headers=await api.admin(), json={"email": "nope"})
    assert assert_problem(bad_email, 422, "invalid_input")["context"] == {"field": "email"}
    unknown = await api.http.patch(url, headers=await api.admin(), json={"kyc": "verified"})
    assert_problem(unknown, 422, "validation_failed")
    assert field_errors(unknown) == {"body.kyc"}
    bad_status = await api.http.patch(url, headers=await api.admin(), json={"status": "gone"})
    assert_problem(bad_status, 422, "validation_failed")
    assert field_errors(bad_status) == {"body.status"}


async def test_patch_moves_the_status_through_its_life_cycle(api: Api) -> None:
    created = await api.customer(family_name=surname())
    url = f"/customers/{created['customer_id']}"
    admin = await api.admin()

    suspended = await api.http.patch(url, headers=admin, json={"status": "suspended"})
    assert suspended.status_code == 200
    assert suspended.json()["status"] == "suspended"

    active = await api.http.patch(url, headers=admin, json={"status": "active"})
    assert active.json()["status"] == "active"

    closed = await api.http.patch(url, headers=admin, json={"status": "closed"})
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"

    for change in ({"status": "active"}, {"given_name": "Back"}, {"email": "x@example.com"}):
        refused = await api.http.patch(url, headers=admin, json=change)
        assert_problem(refused, 422, "invalid_transition")
    review = await api.http.put(f"{url}/kyc", headers=admin, json={"status": "pending", "tier": 0})
    assert_problem(review, 422, "invalid_transition")
    after = await api.http.get(url, headers=admin)
    assert after.json() == closed.json()


async def test_patch_unknown_customer_is_404(api: Api) -> None:
    response = await api.http.patch(
        f"/customers/{uuid.uuid4()}", headers=await api.admin(), json={"given_name": "X"}
    )
    assert_problem(response, 404, "not_found")


async def test_a_suspended_customer_opens_no_account(api: Api) -> None:
    created = await api.customer(family_name=surname())
    await api.http.patch(
        f"/customers/{created['customer_id']}",
        headers=await api.admin(),
        json={"status": "suspended"},
    )
    response = await api.http.post(
        "/accounts",
        headers=await api.admin(),
        json={
            "customer_id": created["customer_id"],
            "product_type": "savings",
            "currency": "USD",
            "name": "Savings",
        },
    )
    assert_problem(response, 422, "rule_violation")


# --- search and pages ---------------------------------------------------------------------


async def test_search_by_every_word_of_a_name(api: Api) -> None:
    family = surname()
    ada = await api.customer(given_name="Ada", family_name=family)
    await api.customer(given_name="Grace", family_name=family)

    both = await search(api, name=family.lower())
    assert len(both) == 2
    only_ada = await search(api, name=f"{family.upper()}  ada")
    assert [c["customer_id"] for c in only_ada] == [ada["customer_id"]]
    assert await search(api, name=f"{family} Charles") == []


async def test_search_by_exact_email(api: Api) -> None:
    local = f"ada.{uuid.uuid4().hex[:10]}"
    ada = await api.customer(family_name=surname(), email=f"{local}@example.com")
    await api.customer(family_name=surname(), email=f"{local}x@example.com")

    found = await search(api, email=f"{local}@EXAMPLE.com")
    assert [c["customer_id"] for c in found] == [ada["customer_id"]]
    assert await search(api, email=f"{local}@example.org") == []


async def test_search_by_phone_in_any_formatting(api: Api) -> None:
    family = surname()
    written, e164 = london_phone()
    grace = await api.customer(family_name=family, phone=written)
    await api.customer(family_name=family)
    spaced = f"{e164[:3]} {e164[3:5]} {e164[5:9]} {e164[9:]}"
    for form in (e164, spaced, written):
        found = await search(api, phone=form, name=family)
        assert [c["customer_id"] for c in found] == [grace["customer_id"]], form


async def test_search_refuses_an_invalid_email_or_phone(api: Api) -> None:
    admin = await api.admin()
    email = await api.http.get("/customers", headers=admin, params={"email": "nope"})
    assert assert_problem(email, 422, "invalid_input")["context"] == {"field": "email"}
    phone = await api.http.get("/customers", headers=admin, params={"phone": "12"})
    assert assert_problem(phone, 422, "invalid_input")["context"] == {"field": "phone"}


async def test_search_by_status_and_kyc_status(api: Api) -> None:
    family = surname()
    active = await api.customer(family_name=family)
    suspended = await api.customer(family_name=family)
    await api.http.patch(
        f"/customers/{suspended['customer_id']}",
        headers=await api.admin(),
        json={"status": "suspended"},
    )
    await api.http.put(
        f"/customers/{active['customer_id']}/kyc",
        headers=await api.admin(),
        json={
            "status": "verified",
            "tier": 1,
            "documents": [{"kind": "passport", "number": "P1", "issuing_country": "GB"}],
        },
    )

    def ids(items: list[dict[str, Any]]) -> list[str]:
        return [c["customer_id"] for c in items]

    assert ids(await search(api, name=family, status="suspended")) == [suspended["customer_id"]]
    assert ids(await search(api, name=family, status="active")) == [active["customer_id"]]
    assert await search(api, name=family, status="closed") == []
    assert ids(await search(api, name=family, kyc_status="verified")) == [active["customer_id"]]
    assert ids(await search(api, name=family, kyc_status="pending")) == [suspended["customer_id"]]
    assert ids(await search(api, name=family, status="active", kyc_status="pending")) == []

    bad = await api.http.get("/customers", headers=await api.admin(), params={"status": "asleep"})
    assert_problem(bad, 422, "validation_failed")
    assert field_errors(bad) == {"query.status"}


async def test_search_pages_with_a_cursor_newest_first(api: Api) -> None:
    family = surname()
    created = [(await api.customer(family_name=family))["customer_id"] for _ in range(5)]

    seen: list[str] = []
    cursors: list[str | None] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, Any] = {"name": family, "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        response = await api.http.get("/customers", headers=await api.admin(), params=params)
        assert response.status_code == 200
        page = response.json()
        seen.extend(c["customer_id"] for c in page["items"])
        cursor = page["next_cursor"]
        cursors.append(cursor)
        if cursor is None:
            break
    assert [len(seen[i : i + 2]) for i in range(0, len(seen), 2)] == [2, 2, 1]
    assert cursors[-1] is None
    assert len(cursors) == 3
    assert sorted(seen) == sorted(created)  # each customer once, none repeated
    assert seen == sorted(seen, key=uuid.UUID, reverse=True)  # newest (highest id) first


async def test_search_limit_is_bounded(api: Api) -> None:
    admin = await api.admin()
    for limit in (0, 101):
        response = await api.http.get("/customers", headers=admin, params={"limit": limit})
        assert_problem(response, 422, "validation_failed")
        assert field_errors(response) == {"query.limit"}


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",  # not base64 at all
        "bm90LWpzb24",  # base64 of "not-json"
        "Im5vdC1hLXV1aWQi",  # base64 of JSON "not-a-uuid": decodes, but no cursor we give out
        "NDI",  # base64 of JSON 42
    ],
)
async def test_search_refuses_a_cursor_it_did_not_give_out(api: Api, cursor: str) -> None:
    response = await api.http.get(
        "/customers", headers=await api.admin(), params={"cursor": cursor}
    )
    assert_problem(response, 400, "bad_cursor")


async def test_search_needs_customers_read(api: Api) -> None:
    _, headers = await api.new_user()
    response = await api.http.get("/customers", headers=headers)
    assert_problem(response, 403, "forbidden")


# --- KYC ----------------------------------------------------------------------------------

PASSPORT = {"kind": "passport", "number": "P1234567", "issuing_country": "GB"}


async def test_kyc_verified_with_a_tier_and_an_unexpired_identity_document(api: Api) -> None:
    created = await api.customer(family_name=surname())
    documents = [
        {**PASSPORT, "expires_on": "2099-12-31"},
        {"kind": "proof_of_address", "number": "  UTIL-42 ", "issuing_country": "GB"},
    ]
    response = await api.http.put(
        f"/customers/{created['customer_id']}/kyc",
        headers=await api.as_role("customer_service"),
        json={"status": "verified", "tier": 2, "documents": documents},
    )
    assert response.status_code == 200, response.text
    kyc = response.json()["kyc"]
    assert kyc["status"] == "verified"
    assert kyc["tier"] == 2
    assert kyc["documents"] == [
        {**PASSPORT, "expires_on": "2099-12-31"},
        {
            "kind": "proof_of_address",
            "number": "UTIL-42",
            "issuing_country": "GB",
            "expires_on": None,
        },
    ]
    assert kyc["updated_at"] is not None

    fetched = await api.http.get(f"/customers/{created['customer_id']}", headers=await api.admin())
    assert fetched.json()["kyc"] == kyc


@pytest.mark.parametrize(
    ("tier", "documents"),
    [
        (0, [PASSPORT]),  # verified needs tier 1 or more
        (1, []),  # and a document
        (1, [{**PASSPORT, "expires_on": "2000-01-01"}]),  # unexpired
        (1, [{"kind": "proof_of_address", "number": "U1", "issuing_country": "GB"}]),  # identity
    ],
)
async def test_kyc_verified_is_refused_without_tier_or_valid_document(
    api: Api, tier: int, documents: list[dict[str, str]]
) -> None:
    created = await api.customer(family_name=surname())
    response = await api.http.put(
        f"/customers/{created['customer_id']}/kyc",
        headers=await api.admin(),
        json={"status": "verified", "tier": tier, "documents": documents},
    )
    body = assert_problem(response, 422, "invalid_input")
    assert body["context"] == {"field": "status"}
    fetched = await api.http.get(f"/customers/{created['customer_id']}", headers=await api.admin())
    assert fetched.json()["kyc"]["status"] == "pending"


async def test_kyc_other_statuses_need_no_document(api: Api) -> None:
    created = await api.customer(family_name=surname())
    response = await api.http.put(
        f"/customers/{created['customer_id']}/kyc",
        headers=await api.admin(),
        json={"status": "rejected", "tier": 0},
    )
    assert response.status_code == 200
    assert response.json()["kyc"]["status"] == "rejected"
    assert response.json()["kyc"]["documents"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "verified", "tier": 4, "documents": [PASSPORT]}, "body.tier"),
        ({"status": "approved", "tier": 1}, "body.status"),
        (
            {"status": "pending", "tier": 0, "documents": [{**PASSPORT, "issuing_country": "gb"}]},
            "body.documents.0.issuing_country",
        ),
        ({"status": "pending", "tier": 0, "documents": [PASSPORT] * 11}, "body.documents"),
    ],
)
async def test_kyc_refuses_malformed_reviews(api: Api, body: dict[str, Any], field: str) -> None:
    created = await api.customer(family_name=surname())
    response = await api.http.put(
        f"/customers/{created['customer_id']}/kyc", headers=await api.admin(), json=body
    )
    assert_problem(response, 422, "validation_failed")
    assert field_errors(response) == {field}


async def test_kyc_needs_the_kyc_permission(api: Api) -> None:
    created = await api.customer(family_name=surname())
    response = await api.http.put(
        f"/customers/{created['customer_id']}/kyc",
        headers=await api.as_role("teller"),
        json={"status": "pending", "tier": 0},
    )
    body = assert_problem(response, 403, "forbidden")
    assert body["context"] == {"permission": "customers:kyc"}


async def test_kyc_of_unknown_customer_is_404(api: Api) -> None:
    response = await api.http.put(
        f"/customers/{uuid.uuid4()}/kyc",
        headers=await api.admin(),
        json={"status": "pending", "tier": 0},
    )
    assert_problem(response, 404, "not_found")


# --- a customer's accounts ----------------------------------------------------------------


async def test_customer_accounts_lists_each_account_with_its_balances(api: Api) -> None:
    created = await api.customer(family_name=surname())
    usd = await api.account(created["customer_id"])
    eur = await api.account(created["customer_id"], currency="EUR")
    await api.deposit(usd["account_id"], "12.34")
    await api.account()  # someone else's

    response = await api.http.get(
        f"/customers/{created['customer_id']}/accounts", headers=await api.as_role("teller")
    )
    assert response.status_code == 200
    accounts = {a["account_id"]: a for a in response.json()}
    assert set(accounts) == {usd["account_id"], eur["account_id"]}
    assert accounts[usd["account_id"]]["balances"]["posted"] == {
        "amount": "12.34",
        "currency": "USD",
    }
    assert accounts[eur["account_id"]]["balances"]["available"] == {
        "amount": "0.00",
        "currency": "EUR",
    }


async def test_customer_without_accounts_has_an_empty_list(api: Api) -> None:
    created = await api.customer(family_name=surname())
    response = await api.http.get(
        f"/customers/{created['customer_id']}/accounts", headers=await api.admin()
    )
    assert response.status_code == 200
    assert response.json() == []


async def test_accounts_of_unknown_customer_is_404(api: Api) -> None:
    response = await api.http.get(f"/customers/{uuid.uuid4()}/accounts", headers=await api.admin())
    assert_problem(response, 404, "not_found")
