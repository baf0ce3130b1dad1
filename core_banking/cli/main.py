"""``nexum``: operate a Nexum ledger from the command line.

    nexum migrate up|down|status    schema migrations (NEXUM_DATABASE_URL)
    nexum verify                    recompute the ledger and check every invariant
    nexum keys generate|rotate      encryption keys for personal data
    nexum events relay|status       the event outbox and its relay to Kafka
    nexum eod [--date D] | status   close a business date; the calendar and latest runs
    nexum version                   the installed version

Configuration comes from the NEXUM_* environment variables, as for the server. Exit codes:
0 success, 1 the ledger failed verification, 2 bad configuration or usage.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from typing import Annotated

import typer
from rich.table import Table

from core_banking import __version__
from core_banking.bootstrap import build, cipher_from, migration_manager, storage_from
from core_banking.cli.close_of_business import eod_app
from core_banking.cli.common import EXIT_CONFIG, EXIT_VIOLATION, console, errors, load_settings
from core_banking.cli.events import events_app
from core_banking.storage.verification import verify_ledger

app = typer.Typer(help="Operate a Nexum core banking ledger.", no_args_is_help=True)
migrate_app = typer.Typer(help="Apply, undo or show schema migrations.", no_args_is_help=True)
app.add_typer(migrate_app, name="migrate")
keys_app = typer.Typer(help="Encryption keys for personal data.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(events_app, name="events")
app.add_typer(eod_app, name="eod")


@migrate_app.command("up")
def migrate_up(
    target: Annotated[str, typer.Argument(help="revision to reach")] = "head",
) -> None:
    """Apply pending migrations."""
    config = load_settings()
    applied = migration_manager(config, storage_from(config)).migrate_up(target)
    for revision in applied:
        console.print(f"Applied: {revision}")
    console.print(f"{len(applied)} migration(s) applied; the schema is at {target}.")


@migrate_app.command("down")
def migrate_down(
    target: Annotated[str, typer.Argument(help='revision to return to, "-1" or "base"')] = "-1",
) -> None:
    """Undo migrations (one by default)."""
    config = load_settings()
    undone = migration_manager(config, storage_from(config)).migrate_down(target)
    for revision in undone:
        console.print(f"Undone: {revision}")
    console.print(f"{len(undone)} migration(s) undone.")


@migrate_app.command("status")
def migrate_status() -> None:
    """Show the current revision and what is pending."""
    config = load_settings()
    status = migration_manager(config, storage_from(config)).status()
    console.print(f"current: {status.current or '(empty database)'}")
    console.print(f"head:    {status.head}")
    if status.pending:
        console.print(f"pending: {', '.join(status.pending)}")
    else:
        console.print("pending: none; the schema is current")


@app.command()
def verify() -> None:
    """Recompute balances from the journal and check every ledger invariant."""
    config = load_settings()
    storage = storage_from(config)

    async def run() -> None:
        try:
            report = await verify_ledger(storage)
        finally:
            await storage.dispose()
        table = Table(title="nexum verify")
        table.add_column("check")
        table.add_column("result")
        failed = {violation.check: violation.detail for violation in report.violations}
        for check in report.checks:
            table.add_row(check, f"[red]{failed[check]}[/red]" if check in failed else "ok")
        console.print(table)
        console.print(", ".join(f"{name}: {count}" for name, count in report.counts.items()))
        if not report.ok:
            first = report.violations[0]
            errors.print(f"[red]FAILED {first.check}: {first.detail}[/red]")
            raise typer.Exit(EXIT_VIOLATION)
        console.print("[green]the ledger is consistent[/green]")

    asyncio.run(run())


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random master key (base64 of 32 bytes) for NEXUM_ENCRYPTION_MASTER_KEY."""
    console.print(base64.b64encode(secrets.token_bytes(32)).decode())


@keys_app.command("rotate")
def keys_rotate(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 500,
) -> None:
    """Re-encrypt every customer's personal data under the current master key.

    Set the new key in NEXUM_ENCRYPTION_MASTER_KEY and list the old ones in
    NEXUM_ENCRYPTION_PREVIOUS_KEYS, run this, then drop the old keys from the list."""
    config = load_settings()
    if not config.encryption_enabled:
        errors.print("[red]NEXUM_ENCRYPTION_ENABLED is false: nothing to encrypt with[/red]")
        raise typer.Exit(EXIT_CONFIG)

    async def run() -> int:
        bank = build(config)
        try:
            return await bank.customers.reencrypt_all(batch_size)
        finally:
            await bank.aclose()

    rewritten = asyncio.run(run())
    console.print(f"re-encrypted {rewritten} customer(s) under key {cipher_from(config).key_id}")


@app.command()
def version() -> None:
    """Print the installed version."""
    console.print(f"nexum {__version__}")


def main() -> None:
    app()
