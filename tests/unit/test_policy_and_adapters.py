"""Unit tests for the business policy and for the pure helpers of the storage adapters:
database URLs, the SQL script splitter, reading driver errors, and the read/write router.

Nothing here talks to a server; the router test opens SQLite files in tmp_path only where
it says so.
"""

from __future__ import annotations

import re
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

import core_banking.migrations.sql as migration_sql
from core_banking.domain import errors as domain
from core_banking.domain.errors import TransactionLimitExceeded, UnknownCurrency
from core_banking.domain.ledger import AccountLimits
from core_banking.domain.money import Money
from core_banking.domain.policy import BusinessPolicy
from core_banking.migrations.sql import split_sql_script
from core_banking.storage import DatabaseRouter, SQLiteStorage, UnsupportedDatabase
from core_banking.storage.errors import is_transient, rule_violation, violated_constraint
from core_banking.storage.urls import async_url, backend_of

LEDGER_FUNCTIONS = Path(migration_sql.__file__).parent / "0001_ledger_functions.sql"


def policy(
    max_transaction: str = "100000.00",
    daily: str = "10000.00",
    minimum: str = "0.00",
) -> BusinessPolicy:
    return BusinessPolicy(
        max_transaction_amount=Decimal(max_transaction),
        max_daily_transaction_limit=Decimal(daily),
        min_account_balance=Decimal(minimum),
    )


# ------------------------------------------------------------------------------ policy


def test_limits_in_a_two_decimal_currency_are_exact() -> None:
    limits = policy(daily="10000.00", minimum="25.50").limits_for("USD")
    assert limits == AccountLimits(min_balance_minor=2_550, daily_limit_minor=1_000_000)


def test_limits_in_a_zero_decimal_currency_round_to_the_strict_side() -> None:
    limits = policy(daily="10000.99", minimum="0.01").limits_for("JPY")
    assert limits.daily_limit_minor == 10_000  # may move: rounded down
    assert limits.min_balance_minor == 1  # must keep: rounded up


def test_limits_in_a_three_decimal_currency_round_to_the_strict_side() -> None:
    limits = policy(daily="1.2349", minimum="0.0001").limits_for("BHD")
    assert limits.daily_limit_minor == 1_234
    assert limits.min_balance_minor == 1


def test_limits_in_a_four_decimal_currency_keep_every_digit() -> None:
    limits = policy(daily="1.2349", minimum="0.0001").limits_for("CLF")
    assert limits == AccountLimits(min_balance_minor=1, daily_limit_minor=12_349)


def test_a_negative_minimum_balance_rounds_up_toward_zero() -> None:
    assert policy(minimum="-0.50").limits_for("JPY").min_balance_minor == 0
    assert policy(minimum="-1.50").limits_for("JPY").min_balance_minor == -1
    assert policy(minimum="-1.0005").limits_for("BHD").min_balance_minor == -1_000


def test_whole_values_convert_exactly_in_every_currency() -> None:
    p = policy(daily="500", minimum="2")
    assert p.limits_for("JPY") == AccountLimits(min_balance_minor=2, daily_limit_minor=500)
    assert p.limits_for("USD") == AccountLimits(min_balance_minor=200, daily_limit_minor=50_000)
    assert p.limits_for("BHD") == AccountLimits(min_balance_minor=2_000, daily_limit_minor=500_000)


def test_limits_are_converted_per_currency_and_remembered() -> None:
    p = policy(daily="10000.99")
    usd = p.limits_for("USD")
    jpy = p.limits_for("JPY")
    assert usd.daily_limit_minor == 1_000_099
    assert jpy.daily_limit_minor == 10_000
    assert p.limits_for("USD") is usd


def test_limits_for_an_unknown_currency_are_refused() -> None:
    with pytest.raises(UnknownCurrency):
        policy().limits_for("ZZZ")


def test_policies_compare_by_their_settings_only() -> None:
    first, second = policy(), policy()
    first.limits_for("USD")
    assert first == second
    assert policy(daily="1.00") != second


def test_transaction_amount_up_to_the_maximum_is_allowed() -> None:
    p = policy(max_transaction="100000.00")
    p.check_transaction_amount(Money.of(10_000_000, "USD"))
    with pytest.raises(TransactionLimitExceeded) as caught:
        p.check_transaction_amount(Money.of(10_000_001, "USD"))
    assert caught.value.context == {"limit": "100000.00"}


def test_transaction_maximum_rounds_down_in_a_zero_decimal_currency() -> None:
    p = policy(max_transaction="1000.99")
    p.check_transaction_amount(Money.of(1_000, "JPY"))
    with pytest.raises(TransactionLimitExceeded) as caught:
        p.check_transaction_amount(Money.of(1_001, "JPY"))
    assert caught.value.context == {"limit": "1000"}


def test_transaction_maximum_in_a_three_decimal_currency() -> None:
    p = policy(max_transaction="5.0009")
    p.check_transaction_amount(Money.of(5_000, "BHD"))
    with pytest.raises(TransactionLimitExceeded) as caught:
        p.check_transaction_amount(Money.of(5_001, "BHD"))
    assert caught.value.context == {"limit": "5.000"}


# -------------------------------------------------------------------------------- urls


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres://nexum:s3cret@db:5432/bank", "postgresql+asyncpg://nexum:s3cret@db:5432/bank"),
        ("postgresql://nexum:s3cret@db/bank", "postgresql+asyncpg://nexum:s3cret@db/bank"),
        ("postgresql+asyncpg://nexum:s3cret@db/bank", "postgresql+asyncpg://nexum:s3cret@db/bank"),
        ("postgresql://db/bank?ssl=require", "postgresql+asyncpg://db/bank?ssl=require"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite:////var/lib/nexum/x.db", "sqlite+aiosqlite:////var/lib/nexum/x.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite+aiosqlite://", "sqlite+aiosqlite://"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_async_url(raw: str, expected: str) -> None:
    assert async_url(raw).render_as_string(hide_password=False) == expected


def test_async_url_keeps_an_escaped_password() -> None:
    url = async_url("postgresql://nexum:p%40ss%2Fword@db/bank")
    assert url.password == "p@ss/word"
    assert url.drivername == "postgresql+asyncpg"


def test_async_url_accepts_a_url_object() -> None:
    assert async_url(make_url("postgres://db/bank")).drivername == "postgresql+asyncpg"


@pytest.mark.parametrize(
    "raw",
    [
        "mysql://u:p@db/bank",
        "mysql+aiomysql://u:p@db/bank",
        "oracle://db/bank",
        "postgresql+psycopg2://u:p@db/bank",
        "postgresql+psycopg://u:p@db/bank",
        "postgres+psycopg2://u:p@db/bank",
        "sqlite+pysqlite:///x.db",
    ],
)
def test_async_url_refuses_unsupported_databases_and_drivers(raw: str) -> None:
    with pytest.raises(UnsupportedDatabase):
        async_url(raw)


def test_unsupported_database_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="PostgreSQL or SQLite"):
        async_url("mysql://db/bank")


@pytest.mark.parametrize(
    ("raw", "backend"),
    [("postgres://db/x", "postgresql"), ("sqlite:///x.db", "sqlite")],
)
def test_backend_of(raw: str, backend: str) -> None:
    assert backend_of(raw) == backend


# ----------------------------------------------------------------------- sql splitting


def test_split_keeps_dollar_quoted_bodies_whole_and_drops_comments_between() -> None:
    script = """-- a header comment
-- over two lines

CREATE TABLE a (
    x integer
);

-- between statements; with a semicolon
CREATE FUNCTION f() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1;
    -- a comment inside the body;
    RAISE NOTICE 'done;';
END
$$;


CREATE INDEX i ON a (x)"""
    assert split_sql_script(script) == [
        "CREATE TABLE a (\n    x integer\n);",
        "CREATE FUNCTION f() RETURNS void\n"
        "LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "    PERFORM 1;\n"
        "    -- a comment inside the body;\n"
        "    RAISE NOTICE 'done;';\n"
        "END\n"
        "$$;",
        "CREATE INDEX i ON a (x)",
    ]


def test_split_a_body_opened_and_closed_on_one_line() -> None:
    script = "CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\nSELECT g();\n"
    assert split_sql_script(script) == [
        "CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;",
        "SELECT g();",
    ]


def test_split_statements_one_per_line() -> None:
    assert split_sql_script("SELECT 1;\nSELECT 2;\n\n\nSELECT 3;") == [
        "SELECT 1;",
        "SELECT 2;",
        "SELECT 3;",
    ]


def test_split_ignores_trailing_whitespace_after_a_semicolon() -> None:
    assert split_sql_script("SELECT 1;   \nSELECT 2;\t\n") == ["SELECT 1;   ", "SELECT 2;\t"]


def test_split_of_only_comments_and_blank_lines_is_empty() -> None:
    assert split_sql_script("\n-- nothing here;\n   \n  -- indented comment\n") == []
    assert split_sql_script("") == []


def test_the_ledger_functions_file_splits_into_create_statements() -> None:
    text = LEDGER_FUNCTIONS.read_text(encoding="utf-8")
    statements = split_sql_script(text)
    expected_count = len(re.findall(r"^CREATE ", text, flags=re.MULTILINE))
    assert expected_count >= 5
    assert len(statements) == expected_count
    for statement in statements:
        assert statement.startswith("CREATE "), statement[:80]
        assert statement.rstrip().endswith(";"), statement[-80:]
        assert statement.count("$$") % 2 == 0, statement[:80]
    assert sum(s.startswith("CREATE FUNCTION nexum_post_entry(") for s in statements) == 1


# ----------------------------------------------------------------------- driver errors


class FakePgError(Exception):
    """Shaped like an asyncpg error: sqlstate, message, detail, constraint_name."""

    def __init__(
        self,
        sqlstate: str,
        message: str,
        detail: str | None = None,
        constraint_name: str | None = None,
    ) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.message = message
        self.detail = detail
        self.constraint_name = constraint_name


class FakeWrapper(Exception):
    """Shaped like SQLAlchemy's DBAPIError: the driver's error is on ``.orig``."""

    def __init__(self, orig: BaseException | None) -> None:
        super().__init__("wrapped")
        self.orig = orig


def caused_by(inner: BaseException, outer: BaseException | None = None) -> BaseException:
    wrapper = outer if outer is not None else RuntimeError("while posting")
    wrapper.__cause__ = inner
    return wrapper


INSUFFICIENT = FakePgError(
    "P0001",
    "nexum:insufficient_funds",
    detail='{"message":"insufficient available funds","account_id":"x"}',
)


def test_a_nexum_refusal_becomes_its_domain_error() -> None:
    refused = rule_violation(INSUFFICIENT)
    assert type(refused) is domain.InsufficientFunds
    assert refused.message == "insufficient available funds"
    assert refused.context == {"account_id": "x"}


@pytest.mark.parametrize(
    "wrap",
    [
        lambda e: FakeWrapper(e),
        lambda e: caused_by(e),
        lambda e: FakeWrapper(caused_by(e, ValueError("adapter"))),
        lambda e: caused_by(FakeWrapper(e)),
    ],
    ids=["orig", "cause", "orig-then-cause", "cause-then-orig"],
)
def test_a_wrapped_refusal_is_unwrapped(wrap: Any) -> None:
    refused = rule_violation(wrap(INSUFFICIENT))
    assert type(refused) is domain.InsufficientFunds
    assert refused.context == {"account_id": "x"}


def test_a_refusal_wrapped_in_a_real_sqlalchemy_error_is_unwrapped() -> None:
    wrapped = IntegrityError("SELECT nexum_post_entry(...)", {}, INSUFFICIENT)
    assert type(rule_violation(wrapped)) is domain.InsufficientFunds


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("insufficient_funds", domain.InsufficientFunds),
        ("account_not_operational", domain.AccountNotOperational),
        ("currency_mismatch", domain.CurrencyMismatch),
        ("wrong_account_kind", domain.WrongAccountKind),
        ("daily_limit_exceeded", domain.DailyLimitExceeded),
        ("idempotency_key_reused", domain.IdempotencyKeyReused),
        ("unbalanced_entry", domain.UnbalancedEntry),
        ("already_reversed", domain.AlreadyReversed),
        ("account_not_found", domain.NotFound),
    ],
)
def test_every_refusal_code_the_database_raises_has_its_error(
    code: str, cls: type[domain.DomainError]
) -> None:
    refused = rule_violation(
        FakePgError("P0001", f"nexum:{code}", detail='{"message":"no","limit_minor":5}')
    )
    assert type(refused) is cls
    assert refused.message == "no"
    assert refused.context == {"limit_minor": 5}


def test_every_code_in_the_ledger_functions_is_understood() -> None:
    codes = set(re.findall(r"nexum_refuse\('([a-z_]+)'", LEDGER_FUNCTIONS.read_text()))
    assert "insufficient_funds" in codes
    # Only reachable by writing to the tables directly: never the caller's fault.
    guards = {"append_only", "invalid_account_identity"}
    assert guards <= codes
    for code in codes - guards:
        refused = rule_violation(FakePgError("P0001", f"nexum:{code}", detail="{}"))
        assert isinstance(refused, domain.DomainError), code
    for code in guards:
        with pytest.raises(domain.InvariantViolation):
            rule_violation(FakePgError("P0001", f"nexum:{code}", detail="{}"))


def test_a_refusal_without_detail_gets_a_message_from_its_code() -> None:
    refused = rule_violation(FakePgError("P0001", "nexum:daily_limit_exceeded"))
    assert type(refused) is domain.DailyLimitExceeded
    assert refused.message == "daily limit exceeded"
    assert refused.context == {}


def test_an_unknown_nexum_code_is_an_invariant_violation() -> None:
    error = FakePgError(
        "P0001",
        "nexum:append_only",
        detail='{"message":"journal_lines is append-only","table":"journal_lines"}',
    )
    with pytest.raises(domain.InvariantViolation) as caught:
        rule_violation(error)
    assert "append_only" in caught.value.message
    assert caught.value.context == {"table": "journal_lines"}


def test_a_nexum_refusal_from_sqlite_is_read_too() -> None:
    with pytest.raises(domain.InvariantViolation):
        rule_violation(sqlite3.IntegrityError("nexum:append_only"))


@pytest.mark.parametrize(
    "error",
    [
        FakePgError("P0001", "division by zero"),
        FakePgError("23505", "duplicate key value violates unique constraint"),
        FakePgError("P0001", "Nexum:insufficient_funds"),
        sqlite3.OperationalError("no such table: accounts"),
        ValueError("nexum:insufficient_funds"),  # not a driver error
        FakeWrapper(None),
    ],
    ids=repr,
)
def test_other_errors_are_not_refusals(error: BaseException) -> None:
    assert rule_violation(error) is None


@pytest.mark.parametrize("sqlstate", ["40001", "40P01", "55P03"])
def test_serialization_deadlock_and_lock_timeout_are_transient(sqlstate: str) -> None:
    error = FakePgError(sqlstate, "could not serialize access")
    assert is_transient(error)
    assert is_transient(FakeWrapper(error))
    assert is_transient(caused_by(error))


@pytest.mark.parametrize("sqlstate", ["23505", "P0001", "57014", "40000", "55P02"])
def test_other_sqlstates_are_not_transient(sqlstate: str) -> None:
    assert not is_transient(FakePgError(sqlstate, "database is locked"))


def test_sqlite_busy_is_transient() -> None:
    locked = sqlite3.OperationalError("database is locked")
    assert is_transient(locked)
    assert is_transient(OperationalError("INSERT ...", {}, locked))
    assert is_transient(caused_by(locked))


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("no such table: accounts"),
        sqlite3.IntegrityError("UNIQUE constraint failed: accounts.number"),
        RuntimeError("database is locked"),  # not a driver error
        ValueError("boom"),
    ],
    ids=repr,
)
def test_other_errors_are_not_transient(error: BaseException) -> None:
    assert not is_transient(error)


def test_the_innermost_driver_error_decides() -> None:
    deadlock = FakePgError("40P01", "deadlock detected")
    assert is_transient(caused_by(deadlock, FakePgError("XX000", "internal error")))
    internal = FakePgError("XX000", "internal error")
    assert not is_transient(caused_by(internal, FakePgError("40001", "serialization failure")))


def test_violated_constraint_from_the_constraint_name() -> None:
    error = FakePgError(
        "23505", "duplicate key value", constraint_name="uq_journal_entries_reversal_of"
    )
    assert violated_constraint(error) == "uq_journal_entries_reversal_of"
    assert violated_constraint(IntegrityError("INSERT", {}, error)) == (
        "uq_journal_entries_reversal_of"
    )
    assert violated_constraint(caused_by(error)) == "uq_journal_entries_reversal_of"


def test_violated_constraint_from_a_sqlite_unique_message() -> None:
    error = sqlite3.IntegrityError("UNIQUE constraint failed: journal_entries.reversal_of")
    assert violated_constraint(error) == "journal_entries.reversal_of"
    wrapped = IntegrityError("INSERT INTO journal_entries ...", {}, error)
    assert violated_constraint(wrapped) == "journal_entries.reversal_of"


def test_violated_constraint_from_a_sqlite_multi_column_unique_message() -> None:
    error = sqlite3.IntegrityError("UNIQUE constraint failed: accounts.code, accounts.currency")
    assert violated_constraint(error) == "accounts.code, accounts.currency"


@pytest.mark.parametrize(
    "error",
    [
        FakePgError("23503", "insert or update violates foreign key constraint"),
        sqlite3.IntegrityError("FOREIGN KEY constraint failed"),
        sqlite3.IntegrityError("NOT NULL constraint failed: accounts.name"),
        ValueError("UNIQUE constraint failed: accounts.number"),  # not a driver error
    ],
    ids=repr,
)
def test_violated_constraint_is_none_without_a_name(error: BaseException) -> None:
    assert violated_constraint(error) is None


# ------------------------------------------------------------------------------ router


def sqlite_file_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    return {name: tmp_path / f"{name}.db" for name in ("primary", "r1", "r2")}


async def test_constructing_a_router_does_not_connect(paths: dict[str, Path]) -> None:
    router = DatabaseRouter(
        sqlite_file_url(paths["primary"]),
        [sqlite_file_url(paths["r1"]), sqlite_file_url(paths["r2"])],
    )
    try:
        assert isinstance(router.primary, SQLiteStorage)
        assert all(isinstance(replica, SQLiteStorage) for replica in router.replicas)
        assert router.primary.url.database == str(paths["primary"])
        assert [r.url.database for r in router.replicas] == [str(paths["r1"]), str(paths["r2"])]
        assert not any(path.exists() for path in paths.values())
    finally:
        await router.dispose()
    assert not any(path.exists() for path in paths.values())


async def test_writes_go_to_the_primary_and_reads_round_robin(paths: dict[str, Path]) -> None:
    router = DatabaseRouter(
        sqlite_file_url(paths["primary"]),
        [sqlite_file_url(paths["r1"]), sqlite_file_url(paths["r2"])],
    )
    primary, r1, r2 = router.primary, *router.replicas
    try:
        assert router.get_connection("write") is primary
        assert router.get_connection("transaction") is primary
        reads = [router.get_connection() for _ in range(5)]
        assert [id(s) for s in reads] == [id(r1), id(r2), id(r1), id(r2), id(r1)]
        # Writes in between do not move the round robin on.
        assert router.get_connection("read") is r2
        assert router.get_connection("write") is primary
        assert router.get_connection("read") is r1
    finally:
        await router.dispose()


async def test_reads_go_to_the_primary_without_replicas(paths: dict[str, Path]) -> None:
    router = DatabaseRouter(sqlite_file_url(paths["primary"]))
    try:
        assert router.replicas == []
        for operation in ("read", "read", "write", "transaction", "read"):
            assert router.get_connection(operation) is router.primary
    finally:
        await router.dispose()


async def test_router_options_reach_every_storage(paths: dict[str, Path]) -> None:
    router = DatabaseRouter(
        sqlite_file_url(paths["primary"]), [sqlite_file_url(paths["r1"])], audit_enabled=False
    )
    try:
        assert router.primary.audit_enabled is False
        assert router.replicas[0].audit_enabled is False
    finally:
        await router.dispose()


async def test_router_refuses_an_unsupported_url(paths: dict[str, Path]) -> None:
    with pytest.raises(UnsupportedDatabase):
        DatabaseRouter(sqlite_file_url(paths["primary"]), ["mysql://db/bank"])


async def test_dispose_closes_pooled_connections(paths: dict[str, Path]) -> None:
    router = DatabaseRouter(sqlite_file_url(paths["primary"]), [sqlite_file_url(paths["r1"])])
    try:
        await router.primary.ping()
        await router.get_connection().ping()
        assert paths["primary"].exists()
        assert paths["r1"].exists()
        assert router.primary.engine.pool.checkedin() == 1
        assert router.replicas[0].engine.pool.checkedin() == 1
    finally:
        await router.dispose()
    assert router.primary.engine.pool.checkedin() == 0
    assert router.replicas[0].engine.pool.checkedin() == 0
