"""Turning a command into what the ledger writes: the posting request, the idempotency
claim that makes it happen at most once, and the audit record that says who asked."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from uuid import UUID

from core_banking.domain.accounts import AccountKind, Side
from core_banking.domain.audit import AuditRecord
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.commands import RequestContext, parameters
from core_banking.domain.idempotency import IdempotencyClaim, fingerprint, validate_key
from core_banking.domain.ids import uuid7
from core_banking.domain.ledger import Channel, EntryType, Leg, PostingRequest
from core_banking.domain.money import Money
from core_banking.domain.policy import BusinessPolicy
from core_banking.ports import Clock, PreparedPosting


class PostingPreparer:
    def __init__(self, clock: Clock, policy: BusinessPolicy) -> None:
        self._clock = clock
        self._policy = policy

    def prepare(
        self,
        entry_type: EntryType,
        legs: tuple[Leg, ...],
        command: Any,
        context: RequestContext,
        channel: Channel,
        *,
        amount: Money | None = None,
        reversal_of: UUID | None = None,
        details: Mapping[str, Any] | None = None,
        entry_id: UUID | None = None,
        claimed: bool = True,
    ) -> PreparedPosting:
        """Check the amount against the bank's single-transaction limit and build the
        request, claim and audit record for one entry. ``claimed=False``: no claim of its
        own, for an entry that its command's own claim covers (one of several it posts)."""
        if amount is not None:
            self._policy.check_transaction_amount(amount)
        today = self._clock.today()
        value_date: date = getattr(command, "value_date", None) or today
        entry_id = entry_id or uuid7()
        request = PostingRequest(
            entry_id=entry_id,
            entry_type=entry_type,
            legs=legs,
            business_date=today,
            value_date=value_date,
            actor=context.actor,
            limits={code: self._policy.limits_for(code) for code in {leg.currency for leg in legs}},
            channel=channel,
            reference=getattr(command, "reference", None),
            metadata=_metadata(command),
            request_id=context.request_id,
            reversal_of=reversal_of,
        )
        claim = claim_for(entry_type.value, command, context, entry_id) if claimed else None
        audit = AuditRecord(
            occurred_at=self._clock.now(),
            actor=context.actor,
            action=f"ledger.{entry_type.value}",
            entity_type="journal_entry",
            entity_id=str(entry_id),
            request_id=context.request_id,
            details={
                "legs": [
                    [str(leg.account_id), leg.side.value, leg.amount_minor, leg.currency]
                    for leg in legs
                ],
                **(details or {}),
            },
        )
        return PreparedPosting(request=request, claim=claim, audit=audit)


def claim_for(
    operation: str, command: Any, context: RequestContext, entity_id: UUID
) -> IdempotencyClaim:
    """The caller's idempotency key for ``command``, in the caller's scope, fingerprinted."""
    return IdempotencyClaim(
        scope=context.idempotency_scope,
        key=validate_key(command.idempotency_key),
        operation=operation,
        fingerprint=fingerprint(operation, parameters(command)),
        entity_id=entity_id,
    )


def customer_leg(
    account_id: UUID,
    side: Side,
    amount: Money,
    *,
    spending: bool = False,
    funds_only: bool = False,
    release_held_minor: int = 0,
) -> Leg:
    """A leg on a customer's deposit account. ``spending`` debits need the funds and count
    toward the daily limit; ``funds_only`` debits (bank fees) need only the funds."""
    return Leg(
        account_id=account_id,
        side=side,
        amount_minor=amount.minor,
        currency=amount.currency.code,
        enforce_funds=spending or funds_only,
        counts_toward_daily_limit=spending,
        required_kind=AccountKind.DEPOSIT,
        release_held_minor=release_held_minor,
    )


def gl_leg(code: GLCode, side: Side, amount: Money) -> Leg:
    """A leg on one of the bank's own general-ledger accounts in the amount's currency."""
    return Leg(
        account_id=gl_account_id(code, amount.currency.code),
        side=side,
        amount_minor=amount.minor,
        currency=amount.currency.code,
    )


def _metadata(command: Any) -> dict[str, Any]:
    metadata = dict(getattr(command, "metadata", None) or {})
    counterparty = getattr(command, "counterparty", None)
    if counterparty is not None:
        metadata["counterparty"] = parameters(counterparty)
    reason = getattr(command, "reason", None)
    if reason is not None:
        metadata["reason"] = reason
    return metadata
