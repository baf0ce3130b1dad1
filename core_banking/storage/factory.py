"""Choosing the storage class from a URL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL

from core_banking.storage.base import Storage
from core_banking.storage.postgres import PostgreSQLStorage
from core_banking.storage.sqlite import SQLiteStorage
from core_banking.storage.urls import backend_of


def create_storage(url: str | URL, **options: Any) -> Storage:
    """PostgreSQLStorage for postgresql:// URLs, SQLiteStorage for sqlite:// ones."""
    if backend_of(url) == "postgresql":
        return PostgreSQLStorage(url, **options)
    return SQLiteStorage(url, **options)
