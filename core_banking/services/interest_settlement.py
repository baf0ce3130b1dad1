"""Settling one account's deposit interest when it closes.

The close of business posts interest at the product's frequency; an account or a term
deposit that closes in between would lose what it accrued since. Closing settles it first,
in the closing's own transaction: what accrued plus the residue carried, in whole minor
units (the domain's ``post_accrual``), as one ``interest_posting`` entry with the bank's
interest expense debited. What is left below one minor unit stays recorded in the account's
interest state, as at every posting.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from core_banking.domain.accounts import Account, Side
from core_banking.domain.chart import GLCode
from core_banking.domain.commands import RequestContext
from core_banking.domain.ledger import Channel, EntryType, Leg
from core_banking.domain.lending.accrual import post_accrual
from core_banking.domain.money import Money, currency
from core_banking.ports import UnitOfWork
from core_banking.services.postings import PostingPreparer, gl_leg


async def settle_interest(
    uow: UnitOfWork,
    preparer: PostingPreparer,
    account: Account,
    command: Any,
    context: RequestContext,
    business_date: date,
    metadata: dict[str, str] | None = None,
) -> int:
    """Post what ``account`` (locked) has accrued and not been paid; returns the minor units
    posted (zero when nothing reaches one). ``metadata`` is added to the entry's."""
    accrued, residue = await uow.interest_state.unposted(account.id)
    split = post_accrual(accrued, residue, currency(account.currency))
    if split.posted_minor:
        amount = Money.of(split.posted_minor, account.currency)
        legs = (
            gl_leg(GLCode.INTEREST_EXPENSE, Side.DEBIT, amount),
            Leg(
                account_id=account.id,
                side=Side.CREDIT,
                amount_minor=split.posted_minor,
                currency=account.currency,
                required_kind=account.kind,
            ),
        )
        prepared = preparer.prepare(
            EntryType.INTEREST_POSTING,
            legs,
            command,
            context,
            Channel.SYSTEM,
            details=metadata,
            claimed=False,
        )
        request = replace(
            prepared.request, metadata={**prepared.request.metadata, **(metadata or {})}
        )
        await uow.ledger.post(request, None, prepared.audit)
    await uow.interest_state.posted(account.id, split.posted_minor, split.residue, business_date)
    return split.posted_minor
