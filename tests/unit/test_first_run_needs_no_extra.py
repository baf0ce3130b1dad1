"""The README's first run (`make run`) installs no extra: the SQLite server and the CLI must
start without the `full` extra's packages (PostgreSQL's driver, Redis, Kafka, cryptography,
OpenTelemetry's SDK), which are imported only where those are configured."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The import name of each package in the `full` extra (where it differs from its name).
IMPORT_NAMES = {
    "confluent-kafka": "confluent_kafka",
    "opentelemetry-sdk": "opentelemetry.sdk",
    "opentelemetry-exporter-otlp": "opentelemetry.exporter",
    "opentelemetry-instrumentation-fastapi": "opentelemetry.instrumentation",
    "opentelemetry-instrumentation-sqlalchemy": "opentelemetry.instrumentation",
    "opentelemetry-instrumentation-redis": "opentelemetry.instrumentation",
}


def _full_extra_modules() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {
        requirement.split(">")[0].split("=")[0].split("[")[0].strip()
        for requirement in project["optional-dependencies"]["full"]
    }
    return {IMPORT_NAMES.get(name, name.replace("-", "_")) for name in names}


def test_the_sqlite_server_and_the_cli_start_without_the_full_extra() -> None:
    modules = sorted(_full_extra_modules())
    assert {"asyncpg", "redis", "cryptography"} <= set(modules)
    script = textwrap.dedent(
        f"""
        import sys
        for name in {modules!r}:
            sys.modules[name] = None  # as if not installed: importing it fails
        from core_banking.api import create_app
        from core_banking.cli import main
        create_app()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "", "NEXUM_DATABASE_URL": "sqlite:///first-run.db"},
    )
    assert result.returncode == 0, result.stderr
