"""Backup and restore, run as an operator runs them: scripts/backup-nexum-db.sh and
scripts/restore-nexum-db.sh in subprocesses, configured only by their environment, against
the suite's PostgreSQL server.

A ledger is populated through the real services (customers with encrypted personal data, an
administrator and a session, deposits in two currencies, transfers, a withdrawal, a fee, an
incoming wire, holds placed, captured, released and left active, a reversal that takes an
account into its overdraft, a frozen account), backed up once for the module and restored.
What must hold: the restored database is the source, row for row in every table, balances,
holds and audit chains included; `nexum verify` passes on it; its triggers and posting
function work; and every refusal (a damaged, unchecked or foreign dump, a non-empty or busy
target, an inconsistent ledger, a failed or concurrent backup) creates, changes and deletes
nothing.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from conftest import settings_for
from core_banking.bootstrap import Nexum, build
from core_banking.config import Settings
from core_banking.domain.accounts import AccountStatus, ProductType
from core_banking.domain.commands import (
    CaptureHold,
    ChangeAccountStatus,
    ChargeFee,
    Counterparty,
    CreateCustomer,
    Deposit,
    PlaceHold,
    ReceiveExternalTransfer,
    ReleaseHold,
    Reverse,
    Transfer,
    Withdraw,
)
from core_banking.services.auth import NewUser
from core_banking.storage.schema import accounts, journal_entries
from core_banking.storage.verification import verify_ledger
from support.banking import CONTEXT, FakeClock, key, money, new_account
from support.databases import (
    admin_postgres_url,
    create_postgres_database,
    drop_postgres_database,
    migrate,
    postgres_available,
    postgres_required,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("backup_restore")]

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
BACKUP = SCRIPTS / "backup-nexum-db.sh"
RESTORE = SCRIPTS / "restore-nexum-db.sh"
NEXUM = Path(sys.executable).with_name("nexum")
MASTER_KEY = base64.b64encode(b"backup-restore-test-master-key!!").decode()
DUMP_NAME = re.compile(r"nexum_backup_\d{8}_\d{6}\.dump")
LEDGER_TABLES = ("accounts", "journal_entries", "journal_lines", "audit_events")
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (backup|restore)-nexum-db\.sh\[\d+\] ")


# --- databases and URLs -------------------------------------------------------------------


def _dsn(url: str) -> str:
    """A URL asyncpg itself takes."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _url_of(database: str) -> str:
    return make_url(admin_postgres_url()).set(database=database).render_as_string(False)


def _app_url(url: str, password: str) -> str:
    """The application's form of ``url``: the asyncpg driver, a driver-only option, and a
    password (the server's own if it has one; under trust authentication any is accepted)."""
    parsed = make_url(url)
    return (
        parsed.set(
            drivername="postgresql+asyncpg",
            password=parsed.password or password,
        ).update_query_dict({"prepared_statement_cache_size": "100"})
    ).render_as_string(hide_password=False)


async def _databases_starting_with(prefix: str) -> list[str]:
    conn = await asyncpg.connect(_dsn(admin_postgres_url()))
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1", prefix
        )
    finally:
        await conn.close()
    return [row["datname"] for row in rows]


async def _drop(name: str) -> None:
    await drop_postgres_database(_url_of(name))


@pytest.fixture(scope="module")
async def server() -> None:
    problem = await postgres_available()
    if problem is not None:
        if postgres_required():
            pytest.fail(problem)
        pytest.skip(problem)


@pytest.fixture
async def names(server: None) -> AsyncIterator[Callable[[str], str]]:
    """Fresh database names for a test; afterwards every database whose name starts with one
    of them (the scratch and replaced databases of a restore included) is dropped."""
    given: list[str] = []

    def name(label: str) -> str:
        given.append(f"nexum_test_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}")
        return given[-1]

    try:
        yield name
    finally:
        for prefix in given:
            for database in await _databases_starting_with(prefix):
                await _drop(database)


async def _connect(database: str) -> asyncpg.Connection:
    return await asyncpg.connect(_dsn(_url_of(database)))


# --- what a database holds --------------------------------------------------------------


@dataclass(frozen=True)
class Contents:
    tables: dict[str, tuple[int, str]]  # name -> (rows, md5 of the rows in order)
    balances: dict[uuid.UUID, tuple[int, int]]  # account -> (posted, held)
    audit_heads: dict[int, tuple[int, bytes]]  # shard -> (seq, head hash)
    triggers: frozenset[str]
    functions: frozenset[str]
    verify_counts: dict[str, int]


async def contents(url: str) -> Contents:
    conn = await asyncpg.connect(_dsn(url))
    try:
        tables: dict[str, tuple[int, str]] = {}
        for row in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ):
            name = row["tablename"]
            count, digest = await conn.fetchrow(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
                f' FROM public."{name}" t'
            )
            tables[name] = (count, digest)
        balances = {
            row["id"]: (row["posted_minor"], row["held_minor"])
            for row in await conn.fetch("SELECT id, posted_minor, held_minor FROM accounts")
        }
        heads = {
            row["shard"]: (row["seq"], bytes(row["head_hash"]))
            for row in await conn.fetch("SELECT shard, seq, head_hash FROM audit_chain_heads")
        }
        triggers = frozenset(
            row["tgname"]
            for row in await conn.fetch("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        )
        functions = frozenset(
            row["proname"]
            for row in await conn.fetch(
                "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = 'public'"
            )
        )
    finally:
        await conn.close()
    bank = build(settings_for(url))
    try:
        report = await verify_ledger(bank.storage)
    finally:
        await bank.aclose()
    assert report.ok, report.violations
    return Contents(tables, balances, heads, triggers, functions, report.counts)


# --- the ledger that is backed up --------------------------------------------------------


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    customer_id: uuid.UUID
    account_id: uuid.UUID
    other_account_id: uuid.UUID
    contents: Contents


def _encrypted(url: str) -> Settings:
    return settings_for(url, encryption_enabled="true", encryption_master_key=MASTER_KEY)


async def populate(bank: Nexum) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A little of everything the services write; returns a customer and two accounts."""
    await bank.auth.setup(
        NewUser("backup.admin", "Backup-Admin-Passw0rd!", "Backup Admin"), CONTEXT
    )
    await bank.auth.login("backup.admin", "Backup-Admin-Passw0rd!", CONTEXT)
    alice = await bank.customers.create(
        CreateCustomer("Alice", "Archer", email="alice@example.com"), CONTEXT
    )
    bob = await bank.customers.create(CreateCustomer("Bob", "Baker"), CONTEXT)
    alice_usd = await new_account(bank, customer=alice)
    alice_eur = await new_account(bank, "EUR", product=ProductType.SAVINGS, customer=alice)
    bob_usd = await new_account(bank, customer=bob, overdraft="100.00")
    bob_old = await new_account(bank, customer=bob)

    ledger, holds = bank.ledger, bank.holds
    await ledger.deposit(Deposit(alice_usd.id, money("1500.00"), key()), CONTEXT)
    await ledger.deposit(Deposit(alice_eur.id, money("300.00", "EUR"), key()), CONTEXT)
    await ledger.deposit(Deposit(bob_usd.id, money("200.00"), key()), CONTEXT)
    mistaken = await ledger.transfer(
        Transfer(alice_usd.id, bob_usd.id, money("125.50"), key()), CONTEXT
    )
    await ledger.transfer(Transfer(bob_usd.id, alice_usd.id, money("20.25"), key()), CONTEXT)
    await ledger.withdraw(Withdraw(bob_usd.id, money("250.00"), key()), CONTEXT)
    await ledger.charge_fee(ChargeFee(alice_usd.id, money("2.50"), "monthly fee", key()), CONTEXT)
    await ledger.receive_external(
        ReceiveExternalTransfer(
            alice_eur.id,
            money("42.00", "EUR"),
            Counterparty("ACME GmbH", "DE89370400440532013000"),
            key(),
        ),
        CONTEXT,
    )
    captured = await holds.place(PlaceHold(alice_usd.id, money("60.00"), key()), CONTEXT)
    await holds.capture(CaptureHold(captured.id, key(), amount=money("45.00")), CONTEXT)
    released = await holds.place(PlaceHold(bob_usd.id, money("10.00"), key()), CONTEXT)
    await holds.release(ReleaseHold(released.id, key()), CONTEXT)
    await holds.place(PlaceHold(alice_usd.id, money("33.33"), key()), CONTEXT)  # stays active
    # the reversal takes Bob into his overdraft
    await ledger.reverse(Reverse(mistaken.entry.id, "sent to the wrong account", key()), CONTEXT)
    assert (await bank.accounts.get(bob_usd.id)).posted_minor < 0
    await bank.accounts.change_status(
        ChangeAccountStatus(bob_old.id, AccountStatus.FROZEN, "fraud check"), CONTEXT
    )
    return alice.id, alice_usd.id, bob_usd.id


@pytest.fixture(scope="module")
async def source(server: None) -> AsyncIterator[Source]:
    url = await create_postgres_database("nexum_test_backup_source")
    try:
        migrate(url)
        bank = build(_encrypted(url), clock=FakeClock())
        try:
            customer_id, account_id, other_id = await populate(bank)
        finally:
            await bank.aclose()
        found = await contents(url)
        # the population reached every table that matters
        for table in (*LEDGER_TABLES, "holds", "customers", "users", "sessions"):
            assert found.tables[table][0] > 0, table
        assert any(held for _, held in found.balances.values())
        yield Source(make_url(url).database or "", url, customer_id, account_id, other_id, found)
    finally:
        await drop_postgres_database(url)


# --- running the scripts -----------------------------------------------------------------


def clean_environment(**variables: str) -> dict[str, str]:
    """This process's environment without anything the scripts read (but a password file or
    password the server may need), plus ``variables``."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("NEXUM_", "DB_", "PG", "BACKUP_", "RETENTION_"))
        or name in ("PGPASSWORD", "PGPASSFILE")
    }
    environ.update(variables)
    return environ


def run(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )


def _fake_bin(directory: Path) -> Path:
    """A directory to put first on PATH: an `aws` that records its arguments (and fails when
    FAKE_AWS_EXIT says so) and a `pg_dump` that records its arguments and PGPASSWORD, runs
    the real one, and cuts the dump's last quarter off when DAMAGE_DUMP is set (a disk or
    transfer fault). A cut is found wherever it falls: the table of contents comes first and
    the table data last, so reading the data back runs into the end of the file. Bytes
    overwritten in the middle were not always found: they can land in a function's text,
    which no reader can tell from a real one."""
    directory.mkdir()
    real_pg_dump = shutil.which("pg_dump")
    assert real_pg_dump is not None
    scripts = {
        "aws": (
            f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{directory}/aws.log"\n'
            'exit "${FAKE_AWS_EXIT:-0}"\n'
        ),
        "pg_dump": (
            f'#!/bin/sh\nprintf "%s\\n" "$@" > "{directory}/pg_dump.args"\n'
            f'printf "%s" "${{PGPASSWORD-}}" > "{directory}/pg_dump.password"\n'
            f'"{real_pg_dump}" "$@" || exit\n'
            '[ -n "${DAMAGE_DUMP-}" ] || exit 0\n'
            'for arg in "$@"; do case $arg in --file=*) file=${arg#--file=} ;; esac; done\n'
            'size=$(stat -c %s "$file")\n'
            'truncate -s $((size * 3 / 4)) "$file"\n'
        ),
    }
    for name, text in scripts.items():
        path = directory / name
        path.write_text(text)
        path.chmod(0o755)
    return directory


@dataclass(frozen=True)
class Backup:
    dump: Path
    password: str
    result: subprocess.CompletedProcess[str]
    fake_bin: Path


def backup_environment(url: str, backup_dir: Path, password: str, **extra: str) -> dict[str, str]:
    return clean_environment(
        NEXUM_DATABASE_URL=_app_url(url, password),
        BACKUP_DIR=str(backup_dir),
        RETENTION_DAYS="30",
        **extra,
    )


@pytest.fixture(scope="module")
def backup(source: Source, tmp_path_factory: pytest.TempPathFactory) -> Backup:
    """One backup of the source ledger, taken with the application's URL (asyncpg form, with
    a password) and with a fake aws CLI on PATH but no bucket configured."""
    root = tmp_path_factory.mktemp("backup")
    fake_bin = _fake_bin(root / "bin")
    password = make_url(source.url).password or f"not-a-secret-{uuid.uuid4().hex}"
    environ = backup_environment(
        source.url, root / "dumps", password, PATH=f"{fake_bin}:{os.environ['PATH']}"
    )
    result = run(BACKUP, env=environ)
    assert result.returncode == 0, result.stderr
    return Backup(Path(result.stdout.strip()), password, result, fake_bin)


def restore_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    password = make_url(admin_postgres_url()).password or "any-password-under-trust"
    return clean_environment(
        NEXUM_DATABASE_URL=_app_url(admin_postgres_url(), password),
        NEXUM_CLI=str(NEXUM),
        NEXUM_RESTORE_LOCK_FILE=str(tmp_path / "restore.lock"),
        **extra,
    )


def copy_backup(backup: Backup, directory: Path, *, checksum: bool = True) -> Path:
    directory.mkdir(exist_ok=True)
    copy = directory / backup.dump.name
    shutil.copy2(backup.dump, copy)
    if checksum:
        shutil.copy2(f"{backup.dump}.sha256", f"{copy}.sha256")
    return copy


def damaged_copy(backup: Backup, directory: Path) -> Path:
    """A copy of the backup, checksum included, with its last quarter lost (see _fake_bin
    for why a cut rather than bytes changed in place)."""
    dump = copy_backup(backup, directory)
    data = dump.read_bytes()
    dump.write_bytes(data[: len(data) * 3 // 4])
    return dump


def foreign_dump(database: str, dump: Path) -> Path:
    """A sound custom-format dump with a right checksum, of a database that is not Nexum."""
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", _dsn(_url_of(database))], check=True
    )
    digest = hashlib.sha256(dump.read_bytes()).hexdigest()
    Path(f"{dump}.sha256").write_text(f"{digest}  {dump.name}\n")
    return dump


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The restore summary's "name: value" lines."""
    found = {}
    for line in result.stdout.splitlines():
        name, separator, value = line.strip().partition(":")
        if separator:
            found[name] = value.strip()
    return found


def assert_logs_only(result: subprocess.CompletedProcess[str]) -> None:
    """Every line the script itself wrote to stderr is a timestamped log line (the tools'
    own output, indented, is allowed between them)."""
    for line in result.stderr.splitlines():
        if line.startswith(("pg_dump:", "pg_restore:", "psql:", "    ")):
            continue
        assert LOG_LINE.match(line), line


# --- the round trip ------------------------------------------------------------------------


def test_the_scripts_are_executable_and_explain_themselves():
    for script in (BACKUP, RESTORE):
        assert script.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
        result = run(script, "--help", env=clean_environment())
        assert result.returncode == 0, result.stderr
        assert "Exit codes" in result.stdout


def test_the_backup_is_a_verified_private_checksummed_dump(backup: Backup, source: Source):
    dump = backup.dump
    assert DUMP_NAME.fullmatch(dump.name), dump
    # only the dump, its checksum and the lock file: no temporary file left over
    assert sorted(path.name for path in dump.parent.iterdir()) == sorted(
        [dump.name, f"{dump.name}.sha256", ".nexum_backup.lock"]
    )
    # dumps hold personal data and credential hashes: readable by their owner only
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(f"{dump}.sha256").stat().st_mode) == 0o600
    assert stat.S_IMODE(dump.parent.stat().st_mode) == 0o700  # the script created it
    digest = hashlib.sha256(dump.read_bytes()).hexdigest()
    assert Path(f"{dump}.sha256").read_text() == f"{digest}  {dump.name}\n"
    # the checksum file works with the standard tool, from the backup directory
    check = subprocess.run(
        ["sha256sum", "--check", f"{dump.name}.sha256"],
        cwd=dump.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr

    toc = subprocess.run(
        ["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=True
    ).stdout
    assert "Format: CUSTOM" in toc
    assert re.search(r"Compression: [1-9]", toc)
    for table in LEDGER_TABLES:
        assert re.search(rf"TABLE DATA public {table} ", toc), table

    # the password reached pg_dump through PGPASSWORD only, and was never printed
    arguments = (backup.fake_bin / "pg_dump.args").read_text()
    assert backup.password not in arguments
    assert "asyncpg" not in arguments
    assert "prepared_statement_cache_size" not in arguments
    assert f"/{source.name}" in arguments
    assert (backup.fake_bin / "pg_dump.password").read_text() == backup.password
    assert backup.password not in backup.result.stdout + backup.result.stderr
    assert "ignoring the database URL parameter 'prepared_statement_cache_size'" in (
        backup.result.stderr
    )
    assert_logs_only(backup.result)
    # aws is on PATH, but no bucket is configured: nothing is uploaded
    assert not (backup.fake_bin / "aws.log").exists()
    assert "NEXUM_BACKUP_S3_BUCKET is not set" in backup.result.stderr


async def test_a_restore_reproduces_the_ledger_exactly(
    backup: Backup, source: Source, names: Callable[[str], str], tmp_path: Path
):
    target = names("restored")
    # NEXUM_ENVIRONMENT=production with the default JWT secret would stop `nexum verify` on a
    # configuration error: the restore must verify with the database URL alone
    environ = restore_environment(tmp_path, NEXUM_ENVIRONMENT="production")
    result = run(RESTORE, str(backup.dump), target, env=environ)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_logs_only(result)
    assert "the ledger is consistent" in result.stderr
    assert backup.password not in result.stdout + result.stderr

    told = summary(result)
    counts = source.contents.verify_counts
    assert told["nexum verify"] == "clean ({})".format(
        ", ".join(f"{name}: {count}" for name, count in counts.items())
    )
    assert told["checksum"] == "sha256 verified"
    assert told["previous target"] == "none (it did not exist)"
    assert told["pg_restore mode"] == "--single-transaction"
    assert told["dumped from"].startswith(source.name)
    # no scratch database is left: only the target itself
    assert await _databases_starting_with(target) == [target]

    restored_url = _url_of(target)
    restored = await contents(restored_url)  # verify_ledger is clean on it, too
    expected = source.contents
    assert restored.balances == expected.balances
    assert restored.audit_heads == expected.audit_heads
    assert restored.verify_counts == expected.verify_counts
    assert restored.tables == expected.tables  # every row of every table, identical
    assert restored.triggers == expected.triggers
    assert restored.functions == expected.functions
    assert {
        "trg_journal_lines_balanced",
        "trg_journal_entries_append_only",
        "trg_audit_events_append_only",
    } <= restored.triggers
    assert "nexum_post_entry" in restored.functions

    # The restored bank works: personal data decrypts with the same key, postings go through
    # the restored posting function, the append-only guard holds, the ledger stays clean.
    bank = build(_encrypted(restored_url), clock=FakeClock())
    try:
        customer = await bank.customers.get(source.customer_id)
        assert (customer.given_name, customer.email) == ("Alice", "alice@example.com")
        before = await bank.accounts.get(source.account_id)
        await bank.ledger.transfer(
            Transfer(source.account_id, source.other_account_id, money("1.00"), key()), CONTEXT
        )
        after = await bank.accounts.get(source.account_id)
        assert after.posted_minor == before.posted_minor - 100
        with pytest.raises(DBAPIError, match="nexum:append_only"):
            async with bank.storage.engine.begin() as conn:
                await conn.execute(update(journal_entries).values(reference="rewritten"))
        report = await verify_ledger(bank.storage)
        assert report.ok, report.violations
    finally:
        await bank.aclose()


# --- the backup's safety ---------------------------------------------------------------------


def test_uploads_only_when_a_bucket_is_set_and_a_failed_upload_keeps_the_backup(
    backup: Backup, source: Source, tmp_path: Path
):
    fake_bin = _fake_bin(tmp_path / "bin")
    path = f"{fake_bin}:{os.environ['PATH']}"
    environ = backup_environment(
        source.url,
        tmp_path / "uploaded",
        backup.password,
        PATH=path,
        NEXUM_BACKUP_S3_BUCKET="s3://nexum-test-bucket",
        NEXUM_BACKUP_S3_PREFIX="nightly",
    )
    result = run(BACKUP, env=environ)
    assert result.returncode == 0, result.stderr
    dump = Path(result.stdout.strip())
    destination = f"s3://nexum-test-bucket/nightly/{dump.name}"
    assert (fake_bin / "aws.log").read_text().splitlines() == [
        f"s3 cp --only-show-errors {dump} {destination}",
        f"s3 cp --only-show-errors {dump}.sha256 {destination}.sha256",
    ]

    environ.update(BACKUP_DIR=str(tmp_path / "not-uploaded"), FAKE_AWS_EXIT="1")
    failed = run(BACKUP, env=environ)
    assert failed.returncode == 4, failed.stderr
    assert "the local backup is complete and kept" in failed.stderr
    kept = Path(failed.stdout.strip())  # the path is printed once the dump is complete
    assert kept.parent == tmp_path / "not-uploaded"
    assert DUMP_NAME.fullmatch(kept.name)
    assert (
        Path(f"{kept}.sha256").read_text().startswith(hashlib.sha256(kept.read_bytes()).hexdigest())
    )


def _touch(path: Path, age: str) -> None:
    subprocess.run(["touch", "-d", age, str(path)], check=True)


async def test_retention_deletes_only_its_own_old_files_and_a_failed_run_keeps_nothing(
    backup: Backup, source: Source, names: Callable[[str], str], tmp_path: Path
):
    directory = tmp_path / "dumps"
    (directory / "archive").mkdir(parents=True)
    expired = [
        "nexum_backup_20200101_000000.dump",
        "nexum_backup_20200101_000000.dump.sha256",
        ".nexum_backup_20200101_000000.dump.partial.Ab12Cd",  # left by a killed run
    ]
    kept_young = ["nexum_backup_20200301_000000.dump", "nexum_backup_20200301_000000.dump.sha256"]
    kept_foreign = [
        "nexum_backup_20200101_000000.dump.bak",
        "nexum_backup_latest.dump",
        "other_backup_20200101_000000.dump",
        "nexum_backup_2020010_000000.dump",
        "notes.txt",
        "archive/nexum_backup_20200101_000000.dump",
    ]
    for name in expired + kept_foreign:
        (directory / name).write_text(name)
        _touch(directory / name, "40 days ago")
    for name in kept_young:
        (directory / name).write_text(name)
        _touch(directory / name, "10 days ago")
    (directory / "nexum_backup_20200102_000000.dump").mkdir()  # a directory, not a dump
    _touch(directory / "nexum_backup_20200102_000000.dump", "40 days ago")
    _touch(directory / "archive", "40 days ago")

    def listing() -> set[str]:
        return {str(path.relative_to(directory)) for path in directory.rglob("*")}

    planted = listing()

    # A run that fails after pg_dump wrote its file (the database is not a Nexum ledger, so
    # the dump fails verification): nothing kept, nothing deleted.
    empty = names("not_nexum")
    conn = await asyncpg.connect(_dsn(admin_postgres_url()))
    try:
        await conn.execute(f'CREATE DATABASE "{empty}"')
    finally:
        await conn.close()
    environ = backup_environment(_url_of(empty), directory, backup.password)
    failed = run(BACKUP, env=environ)
    assert failed.returncode == 1, failed.stderr
    assert "the dump lacks table(s)" in failed.stderr
    assert "no dump was kept" in failed.stderr
    assert failed.stdout == ""
    assert listing() == planted | {".nexum_backup.lock"}

    # So is one whose dump was damaged as it was written: reading it back finds that.
    fake_bin = _fake_bin(tmp_path / "bin")
    environ = backup_environment(
        source.url,
        directory,
        backup.password,
        PATH=f"{fake_bin}:{os.environ['PATH']}",
        DAMAGE_DUMP="1",
    )
    failed = run(BACKUP, env=environ)
    assert failed.returncode == 1, failed.stderr
    assert "cannot read the dump's contents back" in failed.stderr
    assert (fake_bin / "pg_dump.args").exists()  # the damaging pg_dump did run
    assert listing() == planted | {".nexum_backup.lock"}

    # A run that fails before writing anything (no such database) is the same.
    environ = backup_environment(_url_of(f"{empty}_absent"), directory, backup.password)
    failed = run(BACKUP, env=environ)
    assert failed.returncode == 1, failed.stderr
    assert listing() == planted | {".nexum_backup.lock"}

    # A successful run deletes exactly the expired files of its own naming.
    result = run(BACKUP, env=backup_environment(source.url, directory, backup.password))
    assert result.returncode == 0, result.stderr
    new = Path(result.stdout.strip()).name
    assert listing() == (planted - set(expired)) | {
        ".nexum_backup.lock",
        new,
        f"{new}.sha256",
    }
    for name in expired:
        assert f"retention: deleted {name}" in result.stderr


def test_a_second_backup_does_not_start_while_one_holds_the_lock(
    backup: Backup, source: Source, tmp_path: Path
):
    directory = tmp_path / "dumps"
    directory.mkdir()
    with (directory / ".nexum_backup.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run(BACKUP, env=backup_environment(source.url, directory, backup.password))
    assert result.returncode == 75, result.stderr
    assert "another backup holds" in result.stderr
    assert [path.name for path in directory.iterdir()] == [".nexum_backup.lock"]


def test_bad_configuration_is_refused_before_anything_runs(tmp_path: Path):
    directory = tmp_path / "dumps"
    cases = {
        "RETENTION_DAYS": ({"RETENTION_DAYS": "0"}, "RETENTION_DAYS must be"),
        "sqlite": ({"NEXUM_DATABASE_URL": "sqlite:///nexum.db"}, "names a SQLite database"),
        "scheme": ({"NEXUM_DATABASE_URL": "mysql://x@y/z"}, "must be a postgresql:// URL"),
        "compress": ({"NEXUM_BACKUP_COMPRESS": "11"}, "NEXUM_BACKUP_COMPRESS must be"),
    }
    for case, (variables, message) in cases.items():
        result = run(BACKUP, env=clean_environment(BACKUP_DIR=str(directory), **variables))
        assert result.returncode == 2, case
        assert message in result.stderr, case
    assert not directory.exists()


# --- the restore's refusals ------------------------------------------------------------------


async def test_a_damaged_or_unchecked_dump_is_refused_and_nothing_is_created(
    backup: Backup, names: Callable[[str], str], tmp_path: Path
):
    environ = restore_environment(tmp_path)
    dump = damaged_copy(backup, tmp_path / "damaged")

    target = names("damaged")
    result = run(RESTORE, str(dump), target, env=environ)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "checksum mismatch" in result.stderr
    assert result.stdout == ""
    assert await _databases_starting_with(target) == []

    # Without the checksum's protection the damage is found by pg_restore (here a parallel
    # one) in the scratch database, which is dropped: still nothing is created.
    result = run(RESTORE, "--no-checksum", "--jobs=2", str(dump), target, env=environ)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "pg_restore failed" in result.stderr
    assert f"dropped the scratch database {target}_restoring_" in result.stderr
    assert await _databases_starting_with(target) == []

    # A dump with no checksum beside it is refused unless told otherwise.
    unchecked = copy_backup(backup, tmp_path / "unchecked", checksum=False)
    result = run(RESTORE, str(unchecked), target, env=environ)
    assert result.returncode == 3, result.stdout + result.stderr
    assert ".sha256 is missing" in result.stderr
    assert await _databases_starting_with(target) == []

    # A valid dump that is not a Nexum ledger is refused.
    other = names("other")
    admin = await asyncpg.connect(_dsn(admin_postgres_url()))
    try:
        await admin.execute(f'CREATE DATABASE "{other}"')
    finally:
        await admin.close()
    conn = await _connect(other)
    try:
        await conn.execute("CREATE TABLE accounts (id int); INSERT INTO accounts VALUES (1)")
    finally:
        await conn.close()
    foreign = foreign_dump(other, tmp_path / "foreign.dump")
    result = run(RESTORE, str(foreign), target, env=environ)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "not a Nexum backup" in result.stderr
    assert await _databases_starting_with(target) == []


async def test_an_existing_database_is_replaced_only_when_empty_or_forced_and_not_in_use(
    backup: Backup, source: Source, names: Callable[[str], str], tmp_path: Path
):
    environ = restore_environment(tmp_path)
    occupied, empty = names("occupied"), names("empty")
    admin = await asyncpg.connect(_dsn(admin_postgres_url()))
    try:
        await admin.execute(f'CREATE DATABASE "{occupied}"')
        await admin.execute(f'CREATE DATABASE "{empty}"')
    finally:
        await admin.close()
    conn = await _connect(occupied)
    try:
        await conn.execute("CREATE TABLE precious (note text); INSERT INTO precious VALUES ('x')")
        # in use: refused even with --force
        busy = run(RESTORE, "--force", str(backup.dump), occupied, env=environ)
    finally:
        await conn.close()
    assert busy.returncode == 4, busy.stdout + busy.stderr
    assert "session(s) connected" in busy.stderr

    refused = run(RESTORE, str(backup.dump), occupied, env=environ)
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "refusing to replace it without --force" in refused.stderr
    assert await _databases_starting_with(occupied) == [occupied]
    conn = await _connect(occupied)
    try:
        assert await conn.fetchval("SELECT note FROM precious") == "x"
    finally:
        await conn.close()

    # --force, and in parallel: the old database is kept aside, the target is the backup
    forced = run(RESTORE, "--force", "--jobs", "2", str(backup.dump), occupied, env=environ)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    told = summary(forced)
    assert told["pg_restore mode"] == "--jobs=2"
    [aside] = re.findall(rf"renamed to ({occupied}_replaced_\d{{14}}) and kept", forced.stdout)
    assert await _databases_starting_with(occupied) == sorted([occupied, aside])
    conn = await _connect(aside)
    try:
        assert await conn.fetchval("SELECT note FROM precious") == "x"
    finally:
        await conn.close()
    assert (await contents(_url_of(occupied))).tables == source.contents.tables

    # an existing empty database is replaced without --force, and nothing is kept aside
    replaced = run(RESTORE, str(backup.dump), empty, env=environ)
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert summary(replaced)["previous target"] == "an empty database (dropped)"
    assert await _databases_starting_with(empty) == [empty]
    assert (await contents(_url_of(empty))).balances == source.contents.balances


async def test_a_ledger_that_fails_verification_is_not_restored(
    backup: Backup, names: Callable[[str], str], tmp_path: Path
):
    """The backup takes what is there (it must not refuse to save a damaged ledger); the
    restore refuses to put an inconsistent ledger in service."""
    damaged = names("tampered")
    admin = await asyncpg.connect(_dsn(admin_postgres_url()))
    try:
        await admin.execute(f'CREATE DATABASE "{damaged}"')
    finally:
        await admin.close()
    url = _url_of(damaged)
    migrate(url)
    bank = build(settings_for(url), clock=FakeClock())
    try:
        account = await new_account(bank)
        await bank.ledger.deposit(Deposit(account.id, money("10.00"), key()), CONTEXT)
        async with bank.storage.engine.begin() as conn:
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == account.id)
                .values(posted_minor=accounts.c.posted_minor + 500)
            )
    finally:
        await bank.aclose()

    taken = run(BACKUP, env=backup_environment(url, tmp_path / "dumps", backup.password))
    assert taken.returncode == 0, taken.stderr
    target = names("unverified")
    result = run(RESTORE, taken.stdout.strip(), target, env=restore_environment(tmp_path))
    assert result.returncode == 5, result.stdout + result.stderr
    assert "FAILED currency_totals" in result.stderr
    assert "the restored ledger is not consistent" in result.stderr
    assert result.stdout == ""
    assert await _databases_starting_with(target) == []


def test_restore_usage_errors(backup: Backup, tmp_path: Path) -> None:
    environ = restore_environment(tmp_path)
    cases: list[tuple[list[str], str]] = [
        ([], "usage:"),
        ([str(backup.dump), "bad-name"], "TARGET_DB must be"),
        ([str(backup.dump), "postgres"], "not a database to restore into"),
        ([str(backup.dump), "template1"], "not a database to restore into"),
        (["--jobs", "0", str(backup.dump)], "--jobs takes"),
        ([str(tmp_path / "missing.dump")], "is not a readable file"),
        (["--frobnicate", str(backup.dump)], "unknown option"),
    ]
    for args, message in cases:
        result = run(RESTORE, *args, env=environ)
        assert result.returncode == 2, args
        assert message in result.stderr, args
