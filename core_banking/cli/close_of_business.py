"""``nexum eod``: close a business date from the command line, and show the calendar.

    nexum eod [--date YYYY-MM-DD]   close the date (default: the current business date)
    nexum eod status                the calendar and the latest runs

A close shows a progress bar per step. Exit codes: 0 closed (or closed before: the run is
shown again, nothing changes), 3 the date was refused (out of order, in the future, being
closed elsewhere), 4 a step failed (the run stops there; running it again resumes at that
step), 2 bad configuration or usage.
"""

from __future__ import annotations

import asyncio
import getpass
from datetime import date
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from core_banking.bootstrap import build
from core_banking.cli.common import console, errors, load_settings
from core_banking.domain.close_of_business import CloseOfBusinessRun, RunStatus
from core_banking.domain.commands import RequestContext
from core_banking.domain.errors import Conflict, RuleViolation

EXIT_REFUSED = 3
EXIT_STOPPED = 4
RECENT_RUNS = 10

eod_app = typer.Typer(
    help="Close of business: run the day's work for a business date, once, in order.",
    invoke_without_command=True,
)


class ProgressBars:
    """A rich progress bar per step, fed by the steps' ``report(done, total)``."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def step_started(self, name: str) -> None:
        self._tasks[name] = self._progress.add_task(name, total=None)

    def step_report(self, name: str, done: int, total: int) -> None:
        self._progress.update(self._tasks[name], completed=done, total=total)

    def step_finished(self, name: str, items_done: int) -> None:
        self._progress.update(self._tasks[name], completed=items_done, total=items_done)


def _operator() -> RequestContext:
    """Who the run and the audit trail name: the operating-system user running nexum."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        user = "unknown"
    return RequestContext(actor=f"cli:{user}")


def _run_table(run: CloseOfBusinessRun) -> Table:
    table = Table(title=f"close of business {run.business_date}: {run.status}")
    table.add_column("step")
    table.add_column("status")
    table.add_column("items", justify="right")
    for step in run.steps:
        table.add_row(step.name, step.status, str(step.items_done))
    return table


@eod_app.callback()
def close_of_business(
    ctx: typer.Context,
    business_date: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="The business date to close, YYYY-MM-DD (default: the current business date).",
        ),
    ] = None,
) -> None:
    """Close a business date: expire holds and every other step, then advance the calendar."""
    if ctx.invoked_subcommand is not None:
        return
    chosen = _parse_date(business_date) if business_date is not None else None
    config = load_settings()

    async def run() -> CloseOfBusinessRun:
        bank = build(config)
        try:
            day = chosen or (await bank.close_of_business.calendar()).current
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, console=console) as progress:
                return await bank.close_of_business.run(day, _operator(), ProgressBars(progress))
        finally:
            await bank.aclose()

    try:
        finished = asyncio.run(run())
    except (Conflict, RuleViolation) as refused:
        errors.print(f"[red]refused ({refused.code}): {refused.message}[/red]")
        raise typer.Exit(EXIT_REFUSED) from None
    except Exception as failure:  # a step's own failure: say so, and how to go on
        errors.print(
            f"[red]the close of business stopped: {type(failure).__name__}: {failure}[/red]\n"
            "the steps done so far are kept; run nexum eod again to resume"
        )
        raise typer.Exit(EXIT_STOPPED) from None
    console.print(_run_table(finished))
    if finished.replayed:
        console.print(f"{finished.business_date} was closed before; nothing changed")
    else:
        console.print(f"[green]{finished.business_date} is closed[/green]")


@eod_app.command("status")
def status() -> None:
    """The current business date, the last closed one, and the latest runs."""
    config = load_settings()

    async def read() -> tuple[date | None, date, list[CloseOfBusinessRun]]:
        bank = build(config)
        try:
            calendar = await bank.close_of_business.calendar()
            runs = await bank.close_of_business.recent(RECENT_RUNS)
        finally:
            await bank.aclose()
        return calendar.last_closed, calendar.current, runs

    last_closed, current, runs = asyncio.run(read())
    console.print(f"current business date: {current}")
    console.print(f"last closed:           {last_closed or '(none yet)'}")
    table = Table(title="latest runs")
    table.add_column("business date")
    table.add_column("status")
    table.add_column("started by")
    table.add_column("finished at (UTC)")
    table.add_column("steps done", justify="right")
    table.add_column("items", justify="right")
    for run in runs:
        done = [step for step in run.steps if step.status is RunStatus.DONE]
        table.add_row(
            str(run.business_date),
            run.status,
            run.actor,
            f"{run.finished_at:%Y-%m-%d %H:%M:%S}" if run.finished_at else "",
            str(len(done)),
            str(sum(step.items_done for step in done)),
        )
    console.print(table)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("give the date as YYYY-MM-DD", param_hint="--date") from None
