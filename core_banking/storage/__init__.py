"""Storage adapters: the ledger on PostgreSQL or SQLite, behind the ports in
``core_banking.ports``."""

from core_banking.storage.base import Storage
from core_banking.storage.factory import create_storage
from core_banking.storage.postgres import PostgreSQLStorage
from core_banking.storage.router import DatabaseRouter
from core_banking.storage.sqlite import SQLiteStorage
from core_banking.storage.urls import UnsupportedDatabase

__all__ = [
    "DatabaseRouter",
    "PostgreSQLStorage",
    "SQLiteStorage",
    "Storage",
    "UnsupportedDatabase",
    "create_storage",
]
