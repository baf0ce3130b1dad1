"""Schemathesis over the whole OpenAPI schema, against a real server process.

For every operation the schema documents, schemathesis generates requests from the schema
itself -- valid ones and deliberately invalid ones -- sends them as an administrator (who
may call every route), and checks each response: never a server error, a status code the
schema lists for that operation, the documented content type and headers, a body that
matches the documented schema, invalid input refused with a 4xx. It runs as CI would run
it, the ``schemathesis`` command against a served schema, with a fixed seed and a bounded
number of examples per operation so the run is repeatable and takes about a minute.

Logging out would end the administrator's session for every later example, so that one
operation is left out; the security tests cover it. Metrics are open to no network here, so
schemathesis's check that every secured operation refuses a request without credentials
covers ``/metrics`` too. One check is left out: "a schema-valid request is accepted". A
request can match the schema and still break a business rule the schema cannot state (an
outgoing transfer needs a counterparty; a cursor must be one the API gave out; a product's
terms depend on its kind), and those are rightly refused with a 4xx problem.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from support.api import ADMIN_PASSWORD, ADMIN_USERNAME
from support.databases import sqlite_url
from support.server import running_server

pytestmark = pytest.mark.slow

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES_PER_OPERATION = 5
SEED = 20261128
DOCUMENTATION_NETWORK = "192.0.2.0/24"  # RFC 5737: no client is ever there


async def test_every_operation_answers_as_its_schema_says(tmp_path: Path) -> None:
    async with running_server(
        sqlite_url(tmp_path), tmp_path / "logs", metrics_allowed_networks=DOCUMENTATION_NETWORK
    ) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            credentials = {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
            (
                await http.post("/auth/setup", json={**credentials, "full_name": "Fuzz"})
            ).raise_for_status()
            login = await http.post("/auth/login", json=credentials)
            login.raise_for_status()
        token = login.json()["access_token"]
        run = await asyncio.to_thread(
            subprocess.run,
            [
                str(SCHEMATHESIS),
                "run",
                f"{server.base_url}/openapi.json",
                "--header",
                f"Authorization: Bearer {token}",
                "--exclude-path",
                "/auth/logout",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                str(EXAMPLES_PER_OPERATION),
                "--seed",
                str(SEED),
                "--workers",
                "1",
                "--request-timeout",
                "30",
                "--no-color",
            ],
            cwd=tmp_path,  # its cache directory goes there, not into the project
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\n{server.describe()}"
