"""The ``nexum`` command line."""

from core_banking.cli.main import app, main

__all__ = ["app", "main"]
