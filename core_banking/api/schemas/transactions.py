"""Transaction bodies: the money-moving requests, the entries they produce, batches."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from core_banking.api.schemas.common import MoneyIn, MoneyOut, Reference, RequestModel
from core_banking.domain.accounts import Side
from core_banking.domain.commands import Counterparty
from core_banking.domain.ledger import Channel, EntryType, JournalEntry

Metadata = Annotated[
    dict[str, Any],
    Field(
        description="Your own data, kept with the entry: up to 50 keys of strings, integers, "
        "booleans or null, nested at most 3 deep, 4 KB in all.",
    ),
]


class CounterpartyIn(RequestModel):
    """The other bank's customer in an external payment."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=140)]
    account: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="Their account number or IBAN."
    )
    bank_code: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        None, description="BIC, sort code, routing number …"
    )

    def to_counterparty(self) -> Counterparty:
        return Counterparty(self.name, self.account, self.bank_code)


class DepositRequest(RequestModel):
    account_id: UUID
    amount: MoneyIn
    channel: Channel = Channel.BRANCH
    reference: Reference | None = None
    metadata: Metadata = Field(default_factory=dict)
    value_date: date | None = None
    counterparty: CounterpartyIn | None = Field(
        None,
        description="Money arriving from another bank: settled through external clearing "
        "instead of cash.",
    )


class WithdrawRequest(RequestModel):
    account_id: UUID
    amount: MoneyIn
    channel: Channel = Channel.BRANCH
    reference: Reference | None = None
    metadata: Metadata = Field(default_factory=dict)
    value_date: date | None = None


class TransferRequest(RequestModel):
    from_account_id: UUID
    to_account_id: UUID | None = Field(
        description="Another account of this bank, or null for an outgoing external payment "
        "(then `counterparty` is required)."
    )
    amount: MoneyIn
    counterparty: CounterpartyIn | None = None
    channel: Channel = Channel.API
    reference: Reference | None = None
    metadata: Metadata = Field(default_factory=dict)
    value_date: date | None = None


class ReverseRequest(RequestModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class LineOut(BaseModel):
    account_id: UUID
    direction: Literal["debit", "credit"]
    amount: MoneyOut
    balance_after: MoneyOut


class TransactionOut(BaseModel):
    transaction_id: UUID
    type: EntryType
    status: Literal["posted"] = "posted"
    amount: MoneyOut = Field(description="The amount moved (the entry's first line).")
    business_date: date
    value_date: date
    posted_at: datetime
    channel: Channel | None
    reference: str | None
    metadata: dict[str, Any]
    reversal_of: UUID | None
    lines: list[LineOut]

    @classmethod
    def of(cls, entry: JournalEntry) -> TransactionOut:
        first = entry.lines[0]
        return cls(
            transaction_id=entry.id,
            type=entry.entry_type,
            amount=MoneyOut.of(first.amount_minor, first.currency),
            business_date=entry.business_date,
            value_date=entry.value_date,
            posted_at=entry.posted_at,
            channel=entry.channel,
            reference=entry.reference,
            metadata=_in_key_order(entry.metadata),
            reversal_of=entry.reversal_of,
            lines=[
                LineOut(
                    account_id=line.account_id,
                    direction="debit" if line.side is Side.DEBIT else "credit",
                    amount=MoneyOut.of(line.amount_minor, line.currency),
                    balance_after=MoneyOut.of(line.balance_after_minor, line.currency),
                )
                for line in entry.lines
            ],
        )


def _in_key_order(value: Any) -> Any:
    """Metadata with every object's keys sorted: the same bytes whether the entry was just
    posted or read back (PostgreSQL's jsonb keeps keys in an order of its own), so a replay
    rebuilt from the ledger is the first response byte for byte (ADR 0015)."""
    if isinstance(value, Mapping):
        return {name: _in_key_order(value[name]) for name in sorted(value)}
    if isinstance(value, list):
        return [_in_key_order(item) for item in value]
    return value


class BatchMode(StrEnum):
    ATOMIC = "atomic"
    INDEPENDENT = "independent"


class BatchDeposit(DepositRequest):
    type: Literal["deposit"]


class BatchWithdraw(WithdrawRequest):
    type: Literal["withdraw"]


class BatchTransfer(TransferRequest):
    type: Literal["transfer"]


BatchOperation = Annotated[
    BatchDeposit | BatchWithdraw | BatchTransfer, Field(discriminator="type")
]


class BatchRequest(RequestModel):
    mode: BatchMode = Field(
        description="atomic: all operations post in one transaction or none does; "
        "independent: each posts or fails on its own."
    )
    operations: list[BatchOperation] = Field(
        min_length=1, description="At most NEXUM_BATCH_PROCESSING_SIZE operations."
    )


class ItemError(BaseModel):
    code: str
    detail: str


class BatchItemResult(BaseModel):
    index: int
    status: Literal["posted", "failed", "not_attempted"]
    transaction: TransactionOut | None = None
    error: ItemError | None = None


class BatchResult(BaseModel):
    mode: BatchMode
    posted: int
    failed: int
    results: list[BatchItemResult]
