"""The deployment guide's test commands, run as the guide runs them, against a real server
(``python run.py`` on a free port, tests/support/server.py):

    python -m pytest tests/health_checks.py --base-url=http://localhost:8090
    python -m pytest tests/integration/ --base-url=https://staging-api.yourbank.com

Each is a pytest of its own, in a process of its own, with nothing of this one's
environment but PATH and HOME. The server starts on an empty database; the integration run
sets up its first administrator through the API (POST /auth/setup) with the credentials
NEXUM_TEST_ADMIN_USERNAME and NEXUM_TEST_ADMIN_PASSWORD name.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support.server import PROJECT, Server, base_environment, running_server, start

pytestmark = pytest.mark.slow

HEALTH_CHECKS = 10  # the checks tests/health_checks.py holds (with /docs and /redoc)
RUN_TIMEOUT = 600


def guide_pytest(*arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest ARGUMENTS -p no:cacheprovider`` from the project's root."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", *arguments, "-p", "no:cacheprovider"],
        cwd=PROJECT,
        env=base_environment() | environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def outcome(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    """pytest's closing summary as counts: {"passed": 10, "deselected": 3, ...}."""
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    return {word: int(count) for count, word in re.findall(r"(\d+) (\w+)", summary)}


def explain(result: subprocess.CompletedProcess[str], server: Server | None = None) -> str:
    said = (
        f"--- pytest stdout ---\n{result.stdout[-8000:]}\n"
        f"--- pytest stderr ---\n{result.stderr[-3000:]}"
    )
    return said + (f"\n{server.describe()}" if server is not None else "")


async def test_the_guides_health_checks_pass_against_a_running_server(
    tmp_sqlite_url: str, tmp_path: Path
) -> None:
    async with running_server(tmp_sqlite_url, tmp_path / "server") as server:
        result = await asyncio.to_thread(
            guide_pytest, "tests/health_checks.py", f"--base-url={server.base_url}", "-q"
        )
    assert result.returncode == 0, explain(result, server)
    counts = outcome(result)  # each check once; its PostgreSQL twin is deselected
    assert counts == {"passed": HEALTH_CHECKS, "deselected": HEALTH_CHECKS}, explain(result)


async def test_the_guides_health_checks_fail_against_a_server_that_is_not_ready(
    tmp_sqlite_url: str, tmp_path: Path
) -> None:
    """The checks can fail: a server on an empty database it may not migrate is alive but
    neither ready nor healthy, and the run says which checks found that."""
    server = start(tmp_sqlite_url, tmp_path / "server", auto_migrate="false")
    try:
        await alive(server)
        result = await asyncio.to_thread(
            guide_pytest, "tests/health_checks.py", f"--base-url={server.base_url}", "-q"
        )
    finally:
        server.stop()
    assert result.returncode == 1, explain(result, server)
    assert "FAILED tests/health_checks.py::test_readiness_probe" in result.stdout
    assert "FAILED tests/health_checks.py::test_health_reports_healthy" in result.stdout
    assert outcome(result)["passed"] >= 3, explain(result, server)  # liveness, docs, redoc


async def alive(server: Server, within: float = 30.0) -> None:
    """GET /health/live answers 200 (readiness is what the checks are to find missing)."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2) as client:
        while True:
            assert server.process.poll() is None, server.describe()
            try:
                if (await client.get("/health/live")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, server.describe()
            await asyncio.sleep(0.1)


def test_the_health_checks_run_in_process_without_base_url() -> None:
    """Without --base-url the same checks run against the in-process application, on each
    database of the suite (PostgreSQL ones are skipped when there is none)."""
    result = guide_pytest("tests/health_checks.py", "-q", "-rs")
    assert result.returncode == 0, explain(result)
    counts = outcome(result)
    assert counts.get("passed", 0) + counts.get("skipped", 0) == 2 * HEALTH_CHECKS, counts
    assert counts["passed"] >= HEALTH_CHECKS, counts


async def test_the_guides_integration_run_passes_against_a_running_server(
    tmp_sqlite_url: str, tmp_path: Path
) -> None:
    """The whole of tests/integration/ over HTTP: the tests marked http run, once each,
    against the server; the others (they need the databases themselves) are deselected.
    The first administrator is whoever NEXUM_TEST_ADMIN_* name, set up on first use."""
    admin = {
        "NEXUM_TEST_ADMIN_USERNAME": f"guide-admin-{secrets.token_hex(3)}",
        "NEXUM_TEST_ADMIN_PASSWORD": secrets.token_urlsafe(18),
    }
    async with running_server(tmp_sqlite_url, tmp_path / "server") as server:
        result = await asyncio.to_thread(
            guide_pytest,
            "tests/integration/",
            f"--base-url={server.base_url}",
            "-q",
            "-x",
            **admin,
        )
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            login = await http.post(
                "/auth/login",
                json={
                    "username": admin["NEXUM_TEST_ADMIN_USERNAME"],
                    "password": admin["NEXUM_TEST_ADMIN_PASSWORD"],
                },
            )
    assert result.returncode == 0, explain(result, server)
    counts = outcome(result)
    assert counts["passed"] >= 200, counts
    assert counts["deselected"] > 0, counts
    assert set(counts) <= {"passed", "deselected", "skipped", "warnings"}, counts
    assert login.status_code == 200, login.text  # the run set up the administrator it named
