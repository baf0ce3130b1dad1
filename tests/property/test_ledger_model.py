"""Random sequences of banking operations, checked step by step against a plain model.

The model below is written independently of the code under test: a few dictionaries and the
bank's rules as a teller would state them. Hypothesis drives random deposits, withdrawals,
transfers, fees, holds, captures, releases, freezes, reversals, idempotent replays and
business-day changes through the real services on a real database, and after every step the
stored balances must equal the model's and the ledger must balance; at the end
`verify_ledger` recomputes everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text

from conftest import settings_for
from core_banking.bootstrap import Nexum, build
from core_banking.domain.accounts import AccountStatus
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.commands import (
    CaptureHold,
    ChangeAccountStatus,
    ChargeFee,
    Deposit,
    PlaceHold,
    ReleaseHold,
    Reverse,
    Transfer,
    Withdraw,
)
from core_banking.domain.errors import DomainError
from core_banking.domain.money import Money
from core_banking.storage.verification import verify_ledger
from support.banking import CONTEXT, FakeClock, key, new_account, new_customer
from support.databases import (
    create_postgres_database,
    drop_postgres_database,
    migrate,
    postgres_available,
    postgres_required,
    sqlite_url,
)

T = TypeVar("T")
DAILY_LIMIT = 400_00  # the bank-wide default in this test, in cents
# (overdraft, minimum balance, opening deposit): one account short of money, one flush
# with it (so the daily limit is what stops it), one in between.
ACCOUNT_SPECS = (("50.00", None, 100_00), (None, "10.00", 3000_00), (None, None, 600_00))
# Hypothesis favours small integers; mixing in a band of large ones makes refusals (funds,
# daily limit) as common as successes.
deposits = st.one_of(st.integers(1, 100), st.integers(50_00, 1000_00))
amounts = st.one_of(st.integers(1, 100), st.integers(50_00, 250_00))


@dataclass
class ModelAccount:
    """An account as a teller thinks of it."""

    overdraft: int = 0
    minimum: int = 0
    posted: int = 0
    held: int = 0
    status: str = "active"
    spent_today: dict[date, int] = field(default_factory=dict)

    def can_spend(self, amount: int) -> bool:
        return self.posted - self.held + self.overdraft - amount >= self.minimum

    def within_daily_limit(self, amount: int, today: date) -> bool:
        return self.spent_today.get(today, 0) + amount <= DAILY_LIMIT


@dataclass
class ModelEntry:
    """What an entry did to customer accounts (+ credit, - debit), and to cash."""

    key: str
    command: Any
    effects: dict[UUID, int]
    cash: int
    reversible: bool = True


class LedgerModel(RuleBasedStateMachine):
    bank: Nexum
    clock: FakeClock
    loop: asyncio.AbstractEventLoop

    entries = Bundle("entries")
    holds = Bundle("holds")

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    def attempt(self, awaitable: Awaitable[T]) -> tuple[T | None, str | None]:
        try:
            return self.run(awaitable), None
        except DomainError as refusal:
            return None, refusal.code

    @initialize()
    def open_accounts(self) -> None:
        self.model: dict[UUID, ModelAccount] = {}
        self.cash = 0
        self.clearing = 0
        customer = self.run(new_customer(self.bank))
        for overdraft, minimum, _opening in ACCOUNT_SPECS:
            account = self.run(
                new_account(self.bank, customer=customer, overdraft=overdraft, min_balance=minimum)
            )
            self.model[account.id] = ModelAccount(
                overdraft=Money.parse(overdraft, "USD").minor if overdraft else 0,
                minimum=Money.parse(minimum, "USD").minor if minimum else 0,
            )
        self.accounts = sorted(self.model)
        self.opening_cash = self.gl_balance(GLCode.CASH)
        self.opening_clearing = self.gl_balance(GLCode.EXTERNAL_CLEARING)
        for account_id, (_overdraft, _minimum, opening) in zip(
            list(self.model), ACCOUNT_SPECS, strict=True
        ):
            self.deposit(self.accounts.index(account_id), opening)

    def gl_balance(self, code: GLCode) -> int:
        return self.run(self.bank.accounts.get(gl_account_id(code, "USD"))).posted_minor

    def today(self) -> date:
        return self.clock.today()

    def pick(self, index: int) -> UUID:
        return self.accounts[index % len(self.accounts)]

    # --- money movements -------------------------------------------------------------

    @rule(target=entries, index=st.integers(0, 2), amount=deposits)
    def deposit(self, index: int, amount: int) -> Any:
        account = self.pick(index)
        command = Deposit(account, Money.of(amount, "USD"), key())
        allowed = self.model[account].status in ("active", "dormant")
        _result, refusal = self.attempt(self.bank.ledger.deposit(command, CONTEXT))
        assert (refusal is None) == allowed, refusal
        if refusal:
            return None
        self.model[account].posted += amount
        self.cash += amount
        return ModelEntry(command.idempotency_key, command, {account: amount}, amount)

    @rule(target=entries, index=st.integers(0, 2), amount=amounts)
    def withdraw(self, index: int, amount: int) -> Any:
        account = self.pick(index)
        state = self.model[account]
        command = Withdraw(account, Money.of(amount, "USD"), key())
        allowed = (
            state.status == "active"
            and state.can_spend(amount)
            and state.within_daily_limit(amount, self.today())
        )
        _result, refusal = self.attempt(self.bank.ledger.withdraw(command, CONTEXT))
        assert (refusal is None) == allowed, (refusal, state, amount)
        if refusal:
            return None
        state.posted -= amount
        state.spent_today[self.today()] = state.spent_today.get(self.today(), 0) + amount
        self.cash -= amount
        return ModelEntry(command.idempotency_key, command, {account: -amount}, -amount)

    @rule(target=entries, source=st.integers(0, 2), target_index=st.integers(0, 2), amount=amounts)
    def transfer(self, source: int, target_index: int, amount: int) -> Any:
        payer, payee = self.pick(source), self.pick(target_index)
        if payer == payee:
            return None
        command = Transfer(payer, payee, Money.of(amount, "USD"), key())
        allowed = (
            self.model[payer].status == "active"
            and self.model[payee].status in ("active", "dormant")
            and self.model[payer].can_spend(amount)
            and self.model[payer].within_daily_limit(amount, self.today())
        )
        _result, refusal = self.attempt(self.bank.ledger.transfer(command, CONTEXT))
        assert (refusal is None) == allowed, (refusal, self.model[payer], amount)
        if refusal:
            return None
        self.model[payer].posted -= amount
        self.model[payee].posted += amount
        spent = self.model[payer].spent_today
        spent[self.today()] = spent.get(self.today(), 0) + amount
        return ModelEntry(command.idempotency_key, command, {payer: -amount, payee: amount}, 0)

    @rule(target=entries, index=st.integers(0, 2), amount=st.integers(1, 50_00))
    def charge_fee(self, index: int, amount: int) -> Any:
        account = self.pick(index)
        state = self.model[account]
        command = ChargeFee(account, Money.of(amount, "USD"), "monthly fee", key())
        allowed = state.status == "active" and state.can_spend(amount)
        _result, refusal = self.attempt(self.bank.ledger.charge_fee(command, CONTEXT))
        assert (refusal is None) == allowed, refusal
        if refusal:
            return None
        state.posted -= amount
        return ModelEntry(command.idempotency_key, command, {account: -amount}, 0)

    @rule(entry=consumes(entries))
    def reverse(self, entry: ModelEntry | None) -> None:
        if entry is None or not entry.reversible:
            return
        reversal_effects = {account: -change for account, change in entry.effects.items()}
        allowed = all(
            self.model[account].status == "active"
            or (self.model[account].status == "dormant" and change > 0)
            for account, change in reversal_effects.items()
        ) and all(
            change >= 0 or self.model[account].can_spend(-change)
            for account, change in reversal_effects.items()
        )
        original = self.run(self._entry_of(entry))
        command = Reverse(original, "model correction", key())
        _result, refusal = self.attempt(self.bank.ledger.reverse(command, CONTEXT))
        assert (refusal is None) == allowed, (refusal, reversal_effects)
        if refusal:
            return
        for account, change in reversal_effects.items():
            self.model[account].posted += change
        self.cash -= entry.cash

    async def _entry_of(self, entry: ModelEntry) -> UUID:
        """The id the ledger gave this entry: an idempotent replay tells without posting."""
        replay = await _replay(self.bank, entry.command)
        assert replay.replayed
        return replay.entry.id

    @rule(entry=entries)
    def replaying_a_command_changes_nothing(self, entry: ModelEntry | None) -> None:
        if entry is None:
            return
        before = {account: self.run(self.bank.accounts.get(account)) for account in self.accounts}
        result = self.run(_replay(self.bank, entry.command))
        assert result.replayed
        after = {account: self.run(self.bank.accounts.get(account)) for account in self.accounts}
        assert before == after

    # --- holds -------------------------------------------------------------------------

    @rule(target=holds, index=st.integers(0, 2), amount=amounts)
    def place_hold(self, index: int, amount: int) -> Any:
        account = self.pick(index)
        state = self.model[account]
        allowed = (
            state.status == "active"
            and state.can_spend(amount)
            and state.within_daily_limit(amount, self.today())
        )
        command = PlaceHold(account, Money.of(amount, "USD"), key())
        hold, refusal = self.attempt(self.bank.holds.place(command, CONTEXT))
        assert (refusal is None) == allowed, (refusal, state, amount)
        if refusal or hold is None:
            return None
        state.held += amount
        state.spent_today[self.today()] = state.spent_today.get(self.today(), 0) + amount
        return (hold.id, account, amount)

    @rule(hold=consumes(holds), share=st.sampled_from([1, 2, 4]))
    def capture(self, hold: tuple[UUID, UUID, int] | None, share: int) -> None:
        if hold is None:
            return
        hold_id, account, amount = hold
        captured = max(1, amount // share)
        allowed = self.model[account].status == "active"
        command = CaptureHold(hold_id, key(), amount=Money.of(captured, "USD"))
        _result, refusal = self.attempt(self.bank.holds.capture(command, CONTEXT))
        assert (refusal is None) == allowed, refusal
        if refusal:
            return  # the hold stays active, still counted in the model's held amount
        self.model[account].held -= amount
        self.model[account].posted -= captured
        self.clearing -= captured

    @rule(hold=consumes(holds))
    def release(self, hold: tuple[UUID, UUID, int] | None) -> None:
        if hold is None:
            return
        hold_id, account, amount = hold
        self.run(self.bank.holds.release(ReleaseHold(hold_id, key()), CONTEXT))
        self.model[account].held -= amount

    # --- account life and the calendar ---------------------------------------------------

    @rule(index=st.integers(0, 2), status=st.sampled_from(["active", "frozen", "dormant"]))
    def change_status(self, index: int, status: str) -> None:
        account = self.pick(index)
        current = self.model[account].status
        allowed = status != current and not (current == "frozen" and status == "dormant")
        command = ChangeAccountStatus(account, AccountStatus(status), "model")
        _result, refusal = self.attempt(self.bank.accounts.change_status(command, CONTEXT))
        assert (refusal is None) == allowed, (refusal, current, status)
        if not refusal:
            self.model[account].status = status

    @rule()
    def next_business_day(self) -> None:
        self.clock.next_business_day()

    # --- what must always hold -----------------------------------------------------------

    @invariant()
    def balances_match_the_model(self) -> None:
        if not hasattr(self, "model"):
            return
        for account_id, expected in self.model.items():
            stored = self.run(self.bank.accounts.get(account_id))
            assert (stored.posted_minor, stored.held_minor) == (expected.posted, expected.held)
            assert stored.status.value == expected.status
        assert self.gl_balance(GLCode.CASH) - self.opening_cash == self.cash
        assert self.gl_balance(GLCode.EXTERNAL_CLEARING) - self.opening_clearing == self.clearing

    @invariant()
    def the_ledger_balances(self) -> None:
        net = self.run(_net_of_all_accounts(self.bank))
        assert net == 0


async def _replay(bank: Nexum, command: Any) -> Any:
    handlers = {
        Deposit: bank.ledger.deposit,
        Withdraw: bank.ledger.withdraw,
        Transfer: bank.ledger.transfer,
        ChargeFee: bank.ledger.charge_fee,
    }
    return await handlers[type(command)](command, CONTEXT)


async def _net_of_all_accounts(bank: Nexum) -> int:
    async with bank.storage.engine.connect() as conn:
        return int(
            await conn.scalar(
                text(
                    "SELECT COALESCE(SUM(CASE WHEN account_type IN ('asset', 'expense')"
                    " THEN posted_minor ELSE -posted_minor END), 0) FROM accounts"
                )
            )
        )


def _run_model(url: str, examples: int, steps: int) -> None:
    loop = asyncio.new_event_loop()
    try:
        clock = FakeClock()
        bank = build(
            settings_for(url, max_daily_transaction_limit=f"{DAILY_LIMIT // 100}.00"),
            clock=clock,
        )
        LedgerModel.bank, LedgerModel.clock, LedgerModel.loop = bank, clock, loop
        run_state_machine_as_test(
            LedgerModel,
            settings=settings(
                max_examples=examples,
                stateful_step_count=steps,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
        report = loop.run_until_complete(verify_ledger(bank.storage))
        assert report.ok, report.violations
        loop.run_until_complete(bank.aclose())
    finally:
        loop.close()


@pytest.mark.slow
def test_random_operations_agree_with_the_model_on_sqlite(tmp_path):
    url = sqlite_url(tmp_path)
    migrate(url)
    _run_model(url, examples=30, steps=30)


@pytest.mark.postgres
@pytest.mark.slow
def test_random_operations_agree_with_the_model_on_postgresql():
    loop = asyncio.new_event_loop()
    problem = loop.run_until_complete(postgres_available())
    if problem is not None:
        loop.close()
        if postgres_required():
            pytest.fail(problem)
        pytest.skip(problem)
    url = loop.run_until_complete(create_postgres_database("nexum_test_model"))
    try:
        migrate(url)
        _run_model(url, examples=15, steps=30)
    finally:
        loop.run_until_complete(drop_postgres_database(url))
        loop.close()
