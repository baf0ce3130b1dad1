"""Read/write splitting, as the deployment guide describes it: writes and transactions go
to the primary, reads go round-robin to the replicas (to the primary when there are none).

A replica lags its primary by a little, so anything that decides about money (a balance
before a withdrawal) reads from the primary inside its transaction; replicas serve
statements, histories and reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core_banking.storage.base import Storage
from core_banking.storage.factory import create_storage

WRITE_OPERATIONS = frozenset({"write", "transaction"})


class DatabaseRouter:
    def __init__(self, primary_url: str, replica_urls: Sequence[str] = (), **options: Any) -> None:
        self.primary: Storage = create_storage(primary_url, **options)
        self.replicas: list[Storage] = [create_storage(url, **options) for url in replica_urls]
        self.replica_index = 0

    def get_connection(self, operation_type: str = "read") -> Storage:
        """The storage for an operation: the primary for writes, the next replica for reads."""
        if operation_type in WRITE_OPERATIONS or not self.replicas:
            return self.primary
        replica = self.replicas[self.replica_index]
        self.replica_index = (self.replica_index + 1) % len(self.replicas)
        return replica

    async def dispose(self) -> None:
        for storage in (self.primary, *self.replicas):
            await storage.dispose()
