"""The ``nexum`` command line, run as an operator runs it: the installed console script in a
subprocess, configured only by NEXUM_* environment variables, on SQLite and on PostgreSQL.

Each run costs a Python start-up (about two seconds), so every test makes only the calls
that show something new; what the commands do underneath is covered in-process by
test_migrations.py and test_verify_and_guards.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import update

from conftest import settings_for
from core_banking import __version__
from core_banking.bootstrap import build
from core_banking.domain.commands import Transfer
from core_banking.migrations import MigrationManager
from core_banking.storage import create_storage
from core_banking.storage.schema import accounts
from support.banking import CONTEXT, FakeClock, funded_account, key, money
from support.databases import HEAD, REVISIONS

NEXUM = Path(sys.executable).with_name("nexum")
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.fixture
def empty_url(backend: str, request: pytest.FixtureRequest) -> str:
    """An empty database of this test's own, on the backend under test."""
    url: str = request.getfixturevalue(
        "tmp_sqlite_url" if backend == "sqlite" else "tmp_postgres_url"
    )
    return url


def _environment(url: str, settings: dict[str, str]) -> dict[str, str]:
    """NEXUM_DATABASE_URL=url, NEXUM_<NAME>=value for each setting, and no other NEXUM_*
    variable from this process's environment."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("NEXUM_")}
    environ["NEXUM_DATABASE_URL"] = url
    environ.update({f"NEXUM_{name.upper()}": value for name, value in settings.items()})
    environ["COLUMNS"] = "220"  # rich wraps at the terminal width; keep each line whole
    return environ


def nexum(*args: str, url: str, cwd: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NEXUM), *args],
        env=_environment(url, settings),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def start_nexum(*args: str, url: str, cwd: Path, **settings: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(NEXUM), *args],
        env=_environment(url, settings),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def lines(output: str) -> list[str]:
    return [line.rstrip() for line in output.splitlines()]


def test_the_console_script_is_installed():
    assert NEXUM.is_file(), f"{NEXUM} is missing: is the project installed in this venv?"


def test_migrate_status_up_and_down(empty_url, tmp_path):
    status = nexum("migrate", "status", url=empty_url, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert lines(status.stdout) == [
        "current: (empty database)",
        f"head:    {HEAD}",
        f"pending: {', '.join(REVISIONS)}",
    ]

    up = nexum("migrate", "up", url=empty_url, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert lines(up.stdout) == [
        *(f"Applied: {revision}" for revision in REVISIONS),
        f"{len(REVISIONS)} migration(s) applied; the schema is at head.",
    ]
    assert MigrationManager(empty_url).status().is_current

    status = nexum("migrate", "status", url=empty_url, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert lines(status.stdout) == [
        f"current: {HEAD}",
        f"head:    {HEAD}",
        "pending: none; the schema is current",
    ]

    # one step by default
    down = nexum("migrate", "down", url=empty_url, cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert lines(down.stdout) == [f"Undone: {HEAD}", "1 migration(s) undone."]
    after = MigrationManager(empty_url).status()
    assert (after.current, after.pending) == (REVISIONS[-2], (HEAD,))

    # the rest, to base
    down = nexum("migrate", "down", "base", url=empty_url, cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert lines(down.stdout) == [
        *(f"Undone: {revision}" for revision in reversed(REVISIONS[:-1])),
        f"{len(REVISIONS) - 1} migration(s) undone.",
    ]
    after = MigrationManager(empty_url).status()
    assert (after.current, after.pending) == (None, REVISIONS)


async def test_verify_passes_a_clean_ledger_and_names_the_first_violation(empty_url, tmp_path):
    MigrationManager(empty_url).migrate_up()
    storage = create_storage(empty_url)
    try:
        bank = build(settings_for(empty_url), storage=storage, clock=FakeClock())
        alice = await funded_account(bank, "123.45")
        bob = await funded_account(bank, "10.00")
        await bank.ledger.transfer(Transfer(alice.id, bob.id, money("3.21"), key()), CONTEXT)

        clean = nexum("verify", url=empty_url, cwd=tmp_path)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "the ledger is consistent" in clean.stdout
        assert "entries: 3, lines: 6" in clean.stdout
        assert clean.stderr == ""

        async with storage.engine.begin() as conn:
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == alice.id)
                .values(posted_minor=accounts.c.posted_minor + 500)
            )
    finally:
        await storage.dispose()

    tampered = nexum("verify", url=empty_url, cwd=tmp_path)
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    # two checks fail; the summary names the first one verify runs
    assert lines(tampered.stderr) == [
        "FAILED currency_totals: account balances in USD do not sum to zero (net -500)"
    ]
    alice_id = str(alice.id) if empty_url.startswith("postgresql") else alice.id.hex
    assert f"account {alice_id} stores 12524 but its lines sum to 12024" in tampered.stdout
    assert "the ledger is consistent" not in tampered.stdout


def test_version_prints_the_installed_version(tmp_path):
    result = nexum("version", url=f"sqlite:///{tmp_path / 'unused.db'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"nexum {__version__}\n"
    # and the installed metadata is the source tree's version, not a stale install
    assert __version__ == tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert not (tmp_path / "unused.db").exists()


def test_a_bad_variable_exits_2_naming_it(tmp_sqlite_url, tmp_path):
    """Both commands at once (they are independent), to spare a start-up."""
    commands = {
        "verify": start_nexum("verify", url=tmp_sqlite_url, cwd=tmp_path, database_pool_size="abc"),
        "migrate up": start_nexum(
            "migrate", "up", url=tmp_sqlite_url, cwd=tmp_path, database_pool_size="abc"
        ),
    }
    for command, process in commands.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 2, f"{command}: {stdout}{stderr}"
        assert "NEXUM_DATABASE_POOL_SIZE" in stderr, command
        assert "'abc'" in stderr, command
        assert stdout == "", command
    # refused before touching the database: nothing was migrated
    assert MigrationManager(tmp_sqlite_url).status().current is None
