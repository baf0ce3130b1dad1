"""No personal data, password or token in any log line: a real server (``python run.py``)
at NEXUM_LOG_LEVEL=DEBUG writing JSON to NEXUM_LOG_FILE and standard output is driven
through a whole session — set-up, failed and good logins, staff users, an API key, a customer
with contact details, date of birth and identity documents, searches by email and phone in
the query string, accounts, deposits and transfers with counterparty names and IBANs, forged
bearer tokens, a logout — and then every line it wrote is searched for every one of those
values.

The test proves the lines were captured, not only that the values are absent: the log must
hold the request ids sent and the transaction ids answered.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from conftest import TEST_JWT_SECRET, settings_for
from core_banking.bootstrap import storage_from
from core_banking.config import get_config, load_config
from core_banking.observability.logging import configure_logging, get_logger
from core_banking.security.api_keys import parse_key
from support.api import key, money
from support.server import (
    PROJECT,
    Server,
    base_environment,
    free_port,
    running_server,
    wait_until_ready,
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if request.param == "sqlite" else "tmp_postgres_url"
    )
    return url


@dataclass
class Session:
    """What a session sent and received: values that must never be logged, and ids that must
    be (the proof that the log was captured at all)."""

    http: httpx.AsyncClient
    secrets: dict[str, str] = field(default_factory=dict)
    request_ids: list[str] = field(default_factory=list)
    transaction_ids: list[str] = field(default_factory=list)

    def secret(self, label: str, value: str) -> str:
        self.secrets[label] = value
        return value

    async def call(
        self,
        method: str,
        path: str,
        *,
        expect: int,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> httpx.Response:
        request_id = f"pii-probe-{len(self.request_ids):03d}-{uuid.uuid4().hex[:8]}"
        self.request_ids.append(request_id)
        response = await self.http.request(
            method, path, headers={**(headers or {}), "X-Request-ID": request_id}, **options
        )
        assert response.status_code == expect, f"{method} {path}: {response.text}"
        return response

    async def posted(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> str:
        response = await self.call(
            "POST", path, expect=201, headers={**headers, "Idempotency-Key": key()}, json=body
        )
        transaction_id: str = response.json()["transaction_id"]
        self.transaction_ids.append(transaction_id)
        return transaction_id


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def drive_a_whole_session(s: Session) -> None:
    """Every kind of secret and personal datum the API accepts, through the API."""
    unique = uuid.uuid4().hex[:6]
    admin_password = s.secret("admin password", f"Admin-Pass-{unique}-horse battery")
    await s.call(
        "POST",
        "/auth/setup",
        expect=201,
        json={
            "username": "founder",
            "password": admin_password,
            "full_name": s.secret("admin name", f"Wilhelmina Founderly{unique}"),
            "email": s.secret("admin email", f"wilhelmina.{unique}@founders.example.org"),
        },
    )
    for attempt in range(2):
        wrong = s.secret(f"wrong password {attempt}", f"Wrong-Guess-{attempt}-{unique}-xyz")
        await s.call(
            "POST", "/auth/login", expect=401, json={"username": "founder", "password": wrong}
        )
    login = await s.call(
        "POST",
        "/auth/login",
        expect=200,
        json={"username": "founder", "password": admin_password},
    )
    admin = bearer(s.secret("admin token", login.json()["access_token"]))

    teller_password = s.secret("teller password", f"Teller-Pass-{unique}-staple")
    await s.call(
        "POST",
        "/auth/users",
        expect=201,
        headers=admin,
        json={
            "username": "teller-one",
            "password": teller_password,
            "full_name": s.secret("teller name", f"Bartholomew Tellerson{unique}"),
            "email": s.secret("teller email", f"bart.{unique}@branch.example.org"),
            "roles": ["teller"],
        },
    )
    teller_login = await s.call(
        "POST",
        "/auth/login",
        expect=200,
        json={"username": "teller-one", "password": teller_password},
    )
    teller = bearer(s.secret("teller token", teller_login.json()["access_token"]))

    issued = await s.call(
        "POST",
        "/auth/api-keys",
        expect=201,
        headers=admin,
        json={"name": "statement exporter", "permissions": ["customers:read", "accounts:read"]},
    )
    api_key = s.secret("API key", issued.json()["key"])
    parsed = parse_key(api_key)  # the secret is urlsafe base64 and may itself hold "_"
    assert parsed is not None
    s.secret("API key secret part", parsed[1])

    # forged and damaged credentials
    await s.call(
        "GET",
        "/auth/me",
        expect=401,
        headers=bearer(s.secret("forged token", f"forged.{unique}.token-value-abc")),
    )
    await s.call(
        "GET",
        "/auth/me",
        expect=401,
        headers={"X-API-Key": s.secret("forged API key", f"nxk_{uuid.uuid4().hex}_forged{unique}")},
    )
    await s.call("GET", "/auth/me", expect=401, headers=bearer(admin["Authorization"][7:] + "x"))

    # a customer with everything personal the API takes
    given = s.secret("given name", f"Zebulonia{unique}")
    family = s.secret("family name", f"Quaxleyworth{unique}")
    email = s.secret("email", f"zebulonia.q{unique}@personal.example.net")
    s.secret("email local part", f"zebulonia.q{unique}")
    s.secret("phone as written", "+44 20 7946 0321")
    s.secret("phone E.164", "+442079460321")
    s.secret("phone national", "020 7946 0321")
    s.secret("date of birth", "1961-07-23")
    customer = await s.call(
        "POST",
        "/customers",
        expect=201,
        headers=teller,
        json={
            "given_name": given,
            "family_name": family,
            "email": email,
            "phone": "+44 20 7946 0321",
            "date_of_birth": "1961-07-23",
        },
    )
    customer_id = customer.json()["customer_id"]
    passport = s.secret("passport number", f"PZ{unique.upper()}9182")
    utility = s.secret("proof of address number", f"UTIL-{unique}-4471")
    await s.call(
        "PUT",
        f"/customers/{customer_id}/kyc",
        expect=200,
        headers=admin,
        json={
            "status": "verified",
            "tier": 2,
            "documents": [
                {
                    "kind": "passport",
                    "number": passport,
                    "issuing_country": "GB",
                    "expires_on": "2099-12-31",
                },
                {"kind": "proof_of_address", "number": utility, "issuing_country": "GB"},
            ],
        },
    )
    new_email = s.secret("changed email", f"zq.changed{unique}@mail.example.net")
    await s.call(
        "PATCH",
        f"/customers/{customer_id}",
        expect=200,
        headers=admin,
        json={"email": new_email, "phone": "+44 20 7946 0999"},
    )
    s.secret("changed phone", "+442079460999")
    # personal data in query strings: what an access log would record
    for params in ({"email": new_email}, {"phone": "+442079460999"}, {"name": family}):
        await s.call("GET", "/customers", expect=200, headers=admin, params=params)
    await s.call("GET", "/customers", expect=200, headers={"X-API-Key": api_key})
    # personal data in a refused request
    refused = s.secret("refused email", f"not-an-email-{unique}@@bad")
    await s.call(
        "POST",
        "/customers",
        expect=422,
        headers=teller,
        json={"given_name": given, "family_name": family, "email": refused},
    )

    # accounts and money, with counterparties at other banks
    accounts = []
    for name in ("Everyday", "Savings"):
        opened = await s.call(
            "POST",
            "/accounts",
            expect=201,
            headers=teller,
            json={
                "customer_id": customer_id,
                "product_type": "checking",
                "currency": "EUR",
                "name": name,
            },
        )
        accounts.append(opened.json()["account_id"])
    payer = s.secret("payer name", f"Philomena Grindlewald{unique}")
    payer_iban = s.secret("payer IBAN", "GB82WEST12345698765432")
    await s.posted(
        "/transactions/deposit",
        {
            "account_id": accounts[0],
            "amount": money("500.00", "EUR"),
            "channel": "wire",
            "counterparty": {"name": payer, "account": payer_iban, "bank_code": "WESTGB2L"},
        },
        teller,
    )
    await s.posted(
        "/transactions/transfer",
        {
            "from_account_id": accounts[0],
            "to_account_id": accounts[1],
            "amount": money("120.00", "EUR"),
        },
        teller,
    )
    payee = s.secret("payee name", f"Ignatius Plumtree{unique}")
    payee_iban = s.secret("payee IBAN", "DE89370400440532013000")
    await s.posted(
        "/transactions/transfer",
        {
            "from_account_id": accounts[0],
            "to_account_id": None,
            "counterparty": {"name": payee, "account": payee_iban, "bank_code": None},
            "amount": money("30.00", "EUR"),
        },
        teller,
    )
    # refused for want of funds: the refusal is logged, its counterparty is not
    await s.call(
        "POST",
        "/transactions/transfer",
        expect=422,
        headers={**admin, "Idempotency-Key": key()},
        json={
            "from_account_id": accounts[1],
            "to_account_id": None,
            "counterparty": {"name": payee, "account": payee_iban, "bank_code": None},
            "amount": money("99999.00", "EUR"),
        },
    )
    await s.call("GET", f"/accounts/{accounts[0]}/transactions", expect=200, headers=admin)
    await s.call("GET", f"/customers/{customer_id}", expect=200, headers=admin)
    await s.call("POST", "/auth/logout", expect=204, headers=teller)
    await s.call("GET", "/auth/me", expect=401, headers=teller)


def log_lines(server: Server, log_file: Path) -> dict[str, list[str]]:
    """Every line the server wrote, by where it went."""
    return {
        "NEXUM_LOG_FILE": log_file.read_text(errors="replace").splitlines(),
        "stdout": server.stdout().splitlines(),
        "stderr": server.stderr().splitlines(),
    }


def assert_logged_without_secrets(session: Session, written: dict[str, list[str]]) -> None:
    # the lines were captured: every request and every posting is in the log, as JSON
    file_events = [json.loads(line) for line in written["NEXUM_LOG_FILE"]]
    logged_request_ids = {event.get("request_id") for event in file_events}
    assert set(session.request_ids) <= logged_request_ids
    logged_transactions = {event.get("transaction_id") for event in file_events}
    assert set(session.transaction_ids) <= logged_transactions
    assert len(written["stdout"]) >= len(written["NEXUM_LOG_FILE"]) > len(session.request_ids)

    # and no secret or personal datum is in any of them, in any case
    leaks = {
        f"{label} ({where})": [line for line in lines if value.lower() in line.lower()][:3]
        for label, value in session.secrets.items()
        for where, lines in written.items()
        if value.lower() in "\n".join(lines).lower()
    }
    assert leaks == {}, f"{len(leaks)} leaks"
    assert len(session.secrets) >= 30
    # no access log line: the query strings searched by email and phone are nowhere
    assert not [line for lines in written.values() for line in lines if "/customers?" in line]


@pytest.mark.slow
async def test_no_personal_data_password_or_token_in_any_log_line(
    empty_database: str, tmp_path: Path
) -> None:
    log_file = tmp_path / "logs" / "nexum.log"
    async with (
        running_server(
            empty_database,
            tmp_path / "server",
            log_level="DEBUG",
            log_format="json",
            log_file=str(log_file),
        ) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=60) as http,
    ):
        session = Session(http)
        await drive_a_whole_session(session)
    assert_logged_without_secrets(session, log_lines(server, log_file))


def start_uvicorn(database_url: str, log_file: Path, log_dir: Path) -> Server:
    """``uvicorn core_banking.api:app``, as the README runs it, at DEBUG (not waiting)."""
    port = free_port()
    environment = base_environment() | {
        "NEXUM_DATABASE_URL": database_url,
        "NEXUM_JWT_SECRET": TEST_JWT_SECRET,
        "NEXUM_ENABLE_RATE_LIMITING": "false",
        "NEXUM_LOG_LEVEL": "DEBUG",
        "NEXUM_LOG_FILE": str(log_file),
    }
    log_dir.mkdir(parents=True)
    with (
        open(log_dir / "server.stdout", "ab") as stdout,
        open(log_dir / "server.stderr", "ab") as stderr,
    ):
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "core_banking.api:app", "--port", str(port)],
            cwd=PROJECT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # stopped with its process group, as support.server does
        )
    return Server(process, port, 1, log_dir, environment)


@pytest.mark.slow
async def test_the_uvicorn_command_writes_no_access_log_and_no_personal_data(
    tmp_sqlite_url: str, tmp_path: Path
) -> None:
    """uvicorn's own logging (access log included) is set up before Nexum's replaces it."""
    log_file = tmp_path / "logs" / "nexum.log"
    server = start_uvicorn(tmp_sqlite_url, log_file, tmp_path / "server")
    try:
        await wait_until_ready(server)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            session = Session(http)
            await drive_a_whole_session(session)
    finally:
        server.stop()
    assert_logged_without_secrets(session, log_lines(server, log_file))


# --- the logging set-up itself, in this process --------------------------------------------


@pytest.fixture
def debug_log(tmp_path: Path) -> Iterator[Path]:
    """This process logging at DEBUG, as JSON, to a file of the test's own; afterwards the
    set-up the suite had (core_banking.api configured it on import)."""
    path = tmp_path / "nexum.log"
    configure_logging(load_config({"NEXUM_LOG_LEVEL": "DEBUG", "NEXUM_LOG_FILE": str(path)}))
    try:
        yield path
    finally:
        replaced = list(logging.getLogger().handlers)
        configure_logging(get_config())
        for handler in replaced:
            handler.close()


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_debug_lines_are_nexums_own_libraries_stay_at_info(debug_log: Path) -> None:
    logging.getLogger("aiosqlite").debug("executing SELECT ? (%r,)", "Zebulonia Quaxleyworth")
    logging.getLogger("sqlalchemy.engine.Engine").debug("Row ('zq@example.net',)")
    logging.getLogger("core_banking.ledger").debug("a debug line of Nexum's own")
    logging.getLogger("alembic.runtime.migration").info("a library's info line")
    written = debug_log.read_text()
    assert "Zebulonia" not in written
    assert "Row (" not in written
    assert [event["message"] for event in events(debug_log)] == [
        "a debug line of Nexum's own",
        "a library's info line",
    ]


def test_anything_shaped_like_a_secret_is_cut_out_of_every_line(debug_log: Path) -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXZhbHVl"
    api_key = f"nxk_{uuid.uuid4().hex}_c2VjcmV0LXNlY3JldC1zZWNyZXQ"
    library = logging.getLogger("some.library")
    library.warning("sent Authorization: Bearer opaque-token-123 to %s", "the bank")
    library.warning("token %s and key %s", jwt, api_key)
    library.warning("mail for zebulonia.q@personal.example.net bounced")
    get_logger("core_banking.auth").info(
        "login refused", password="Wrong-Guess-1", email="zq@example.net", reason=f"key {api_key}"
    )
    written = debug_log.read_text()
    for secret in ("opaque-token-123", jwt, api_key, "zebulonia.q@", "Wrong-Guess-1", "zq@"):
        assert secret not in written
    logged = events(debug_log)
    assert [event["message"] for event in logged] == [
        "sent Authorization: [redacted] to the bank",
        "token [redacted] and key [redacted]",
        "mail for [redacted] bounced",
        "login refused",
    ]
    assert logged[-1] | {"timestamp": None} == {
        "message": "login refused",
        "password": "[redacted]",
        "email": "[redacted]",
        "reason": "key [redacted]",
        "logger": "core_banking.auth",
        "level": "INFO",
        "timestamp": None,
    }


PERSON = "Zebulonia Quaxleyworth"


def fail_with_personal_data() -> None:
    # (the frames show these source lines: they must not spell the name out)
    try:
        raise LookupError(f"no customer {PERSON}")
    except LookupError as error:
        raise ValueError(f"invalid input for query argument $1: {PERSON!r}") from error


def test_an_exception_is_logged_with_its_frames_and_types_never_its_message(
    debug_log: Path,
) -> None:
    for logger in (logging.getLogger("core_banking.api"), get_logger("core_banking.monitors")):
        try:
            fail_with_personal_data()
        except ValueError:
            logger.exception("unexpected error")
    written = debug_log.read_text()
    assert "Zebulonia" not in written
    logged = events(debug_log)
    assert len(logged) == 2
    for event in logged:
        trace = event["exception"]
        assert "in fail_with_personal_data" in trace  # the frames are there
        assert "LookupError: [redacted]" in trace
        assert trace.endswith("ValueError: [redacted]\n")
        assert "exc_info" not in event


def test_uvicorns_access_log_is_silent(debug_log: Path) -> None:
    access = logging.getLogger("uvicorn.access")
    access.info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/customers?name=Zebulonia", "1.1", 200
    )
    logging.getLogger("uvicorn.error").info("uvicorn's own lines are kept")
    assert [event["message"] for event in events(debug_log)] == ["uvicorn's own lines are kept"]


async def test_database_echo_and_database_errors_never_quote_values(
    tmp_sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """NEXUM_DATABASE_ECHO logs every statement, not its parameters; an error's message
    names the statement, not the values."""
    storage = storage_from(settings_for(tmp_sqlite_url, database_echo="true"))
    secret = f"Zebulonia{uuid.uuid4().hex[:6]}"
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            async with storage.engine.connect() as conn:
                assert await conn.scalar(text("SELECT :name"), {"name": secret}) == secret
                with pytest.raises(DBAPIError) as refused:
                    await conn.execute(text("SELECT :name FROM no_such_table"), {"name": secret})
    finally:
        await storage.dispose()
    assert "SELECT ?" in caplog.text  # the statements were logged
    assert secret not in caplog.text
    assert "no_such_table" in str(refused.value)
    assert secret not in str(refused.value)
