"""What every ``nexum`` command shares: its consoles, its exit codes, its configuration."""

from __future__ import annotations

import typer
from rich.console import Console

from core_banking.config import ConfigError, Settings, get_config

# A line is never wrapped at the terminal's width: scripts read these lines (a long list
# of pending migrations is one line, whatever the width).
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

EXIT_VIOLATION = 1
EXIT_CONFIG = 2


def load_settings() -> Settings:
    """The NEXUM_* configuration, or exit 2 naming what is wrong with it."""
    try:
        return get_config()
    except ConfigError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_CONFIG) from None
