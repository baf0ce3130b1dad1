"""``nexum events``: the outbox relay as a worker of its own, and the backlog.

The API processes relay too; the lease in the database lets one relay lead at a time, so
running this worker beside them is safe, and it keeps events flowing while the API is
scaled to zero or restarting.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from typing import Annotated

import typer

from core_banking.bootstrap import build
from core_banking.cli.common import EXIT_CONFIG, console, errors, load_settings
from core_banking.config import Settings
from core_banking.observability.logging import configure_logging
from core_banking.observability.metrics import PrometheusTelemetry
from core_banking.services.event_relay import EventRelay

events_app = typer.Typer(help="The event outbox and its relay to Kafka.", no_args_is_help=True)


def _events_settings() -> Settings:
    config = load_settings()
    if not config.enable_kafka_events:
        errors.print("[red]NEXUM_ENABLE_KAFKA_EVENTS is false: there is nothing to relay[/red]")
        raise typer.Exit(EXIT_CONFIG)
    return config


@events_app.command("relay")
def relay(
    drain: Annotated[
        bool, typer.Option(help="Publish what waits, then exit, instead of running until stopped.")
    ] = False,
) -> None:
    """Publish the outbox to Kafka until SIGTERM or Ctrl-C."""
    config = _events_settings()
    configure_logging(config)

    async def run() -> None:
        bank = build(config, telemetry=PrometheusTelemetry())
        relay = bank.events
        if relay is None:  # unreachable: events are on
            raise typer.Exit(EXIT_CONFIG)
        try:
            if drain:
                await _drain(relay)
            else:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for stopping in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(stopping, stop.set)
                console.print(f"relaying events as {relay.owner}")
                await relay.run(stop)
        finally:
            await bank.aclose()

    asyncio.run(run())


async def _drain(relay: EventRelay) -> None:
    """Cycles until the outbox is empty; exit 1 when the broker stops acknowledging."""
    total = 0
    while True:
        cycle = await relay.relay_once()
        total += cycle.delivered
        if cycle.undelivered:
            errors.print(f"[red]Kafka did not acknowledge; {total} row(s) published[/red]")
            raise typer.Exit(1)
        if not cycle.delivered:
            backlog = await relay.backlog()
            if backlog.pending == 0:
                break
            errors.print("[red]another relay holds the lease; try again later[/red]")
            raise typer.Exit(1)
    console.print(f"{total} outbox row(s) published; the outbox is empty")


@events_app.command("status")
def status() -> None:
    """How many events wait in the outbox, and for how long the oldest has."""
    config = _events_settings()

    async def run() -> None:
        bank = build(config)
        relay = bank.events
        try:
            if relay is None:
                raise typer.Exit(EXIT_CONFIG)
            backlog = await relay.backlog()
            brokers = await relay.brokers_connected()
        finally:
            await bank.aclose()
        waited = (datetime.now(UTC) - backlog.oldest).total_seconds() if backlog.oldest else 0
        more = "+" if backlog.capped else ""
        console.print(f"pending events: {backlog.pending}{more}")
        console.print(f"oldest waiting: {waited:.1f} s")
        console.print(f"brokers connected: {brokers}")

    asyncio.run(run())
