"""Unit tests for the ledger rules: leg validation, posting requests, and what one entry may
do to one account (`post_to_account`, `check_funds`, `check_daily_limit`, reversals).

No database: accounts are built in memory by `make_account`, the rules are pure functions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core_banking.domain.accounts import Account, AccountKind, AccountStatus, AccountType, Side
from core_banking.domain.errors import (
    AccountNotOperational,
    CurrencyMismatch,
    DailyLimitExceeded,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    InvariantViolation,
    UnbalancedEntry,
    UnknownCurrency,
    WrongAccountKind,
)
from core_banking.domain.ledger import (
    MAX_LEGS,
    MAX_REFERENCE_LENGTH,
    AccountLimits,
    Channel,
    EntryType,
    JournalEntry,
    JournalLine,
    Leg,
    PostingRequest,
    check_daily_limit,
    check_funds,
    post_to_account,
    reversal_legs,
    validate_legs,
)
from core_banking.domain.money import MAX_AMOUNT_MINOR

TODAY = date(2025, 3, 14)
YESTERDAY = TODAY - timedelta(days=1)
CREATED = datetime(2025, 1, 2, 9, 30, tzinfo=UTC)
DEFAULT_MIN = 0
DEFAULT_DAILY = 1_000_000
LIMITS = {
    "USD": AccountLimits(min_balance_minor=DEFAULT_MIN, daily_limit_minor=DEFAULT_DAILY),
    "EUR": AccountLimits(min_balance_minor=DEFAULT_MIN, daily_limit_minor=DEFAULT_DAILY),
}


def make_account(**changes: Any) -> Account:
    """An active USD deposit account (a liability) with no balance, unless told otherwise."""
    fields: dict[str, Any] = {
        "id": uuid4(),
        "kind": AccountKind.DEPOSIT,
        "account_type": AccountType.LIABILITY,
        "currency": "USD",
        "status": AccountStatus.ACTIVE,
        "name": "Everyday",
        "code": None,
        "number": None,
        "customer_id": uuid4(),
        "product": None,
        "posted_minor": 0,
        "held_minor": 0,
        "overdraft_limit_minor": 0,
        "min_balance_minor": None,
        "daily_limit_minor": None,
        "daily_debit_minor": 0,
        "daily_debit_date": None,
        "line_seq": 0,
        "last_posted_at": None,
        "created_at": CREATED,
        "updated_at": CREATED,
    }
    fields.update(changes)
    return Account(**fields)


def make_gl_account(account_type: AccountType = AccountType.ASSET, **changes: Any) -> Account:
    base: dict[str, Any] = {
        "kind": AccountKind.GENERAL_LEDGER,
        "account_type": account_type,
        "code": "1000",
        "customer_id": None,
        "name": "Cash and vault",
    }
    base.update(changes)
    return make_account(**base)


def leg(
    account: Account | UUID, side: Side, amount: int, currency: str = "USD", **guards: Any
) -> Leg:
    account_id = account.id if isinstance(account, Account) else account
    return Leg(account_id=account_id, side=side, amount_minor=amount, currency=currency, **guards)


def debit(account: Account | UUID, amount: int, currency: str = "USD", **guards: Any) -> Leg:
    return leg(account, Side.DEBIT, amount, currency, **guards)


def credit(account: Account | UUID, amount: int, currency: str = "USD", **guards: Any) -> Leg:
    return leg(account, Side.CREDIT, amount, currency, **guards)


def pair(amount: int = 100, currency: str = "USD") -> tuple[Leg, Leg]:
    return debit(uuid4(), amount, currency), credit(uuid4(), amount, currency)


def request(legs: tuple[Leg, ...] | None = None, **changes: Any) -> PostingRequest:
    fields: dict[str, Any] = {
        "entry_id": uuid4(),
        "entry_type": EntryType.TRANSFER,
        "legs": legs if legs is not None else pair(),
        "business_date": TODAY,
        "value_date": TODAY,
        "actor": "teller-1",
        "limits": LIMITS,
    }
    fields.update(changes)
    return PostingRequest(**fields)


# ------------------------------------------------------------------------- validate_legs


def test_two_balanced_legs_are_valid() -> None:
    validate_legs(pair())


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_legs_are_refused(count: int) -> None:
    legs = pair()[:count]
    with pytest.raises(UnbalancedEntry) as caught:
        validate_legs(legs)
    assert caught.value.context == {"legs": count}


def test_exactly_max_legs_are_valid() -> None:
    half = MAX_LEGS // 2
    legs = [debit(uuid4(), 10) for _ in range(half)] + [credit(uuid4(), 10) for _ in range(half)]
    assert len(legs) == MAX_LEGS
    validate_legs(legs)


def test_one_leg_more_than_max_is_refused_even_when_balanced() -> None:
    legs = [debit(uuid4(), 1) for _ in range(MAX_LEGS)] + [credit(uuid4(), MAX_LEGS)]
    assert len(legs) == MAX_LEGS + 1
    with pytest.raises(UnbalancedEntry) as caught:
        validate_legs(legs)
    assert caught.value.context == {"legs": MAX_LEGS + 1}


@pytest.mark.parametrize("amount", [0, -1, -100, MAX_AMOUNT_MINOR, MAX_AMOUNT_MINOR + 1])
def test_leg_amounts_must_be_positive_and_below_the_bound(amount: int) -> None:
    legs = (debit(uuid4(), amount), credit(uuid4(), amount))
    with pytest.raises(InvalidAmount):
        validate_legs(legs)


def test_largest_amount_below_the_bound_is_valid() -> None:
    validate_legs(pair(MAX_AMOUNT_MINOR - 1))


@pytest.mark.parametrize("amount", [True, 1.0, "1"])
def test_leg_amounts_must_be_exact_ints(amount: Any) -> None:
    legs = (debit(uuid4(), amount), credit(uuid4(), amount))
    with pytest.raises(InvalidAmount):
        validate_legs(legs)


@pytest.mark.parametrize("release", [-1, MAX_AMOUNT_MINOR])
def test_hold_release_must_be_non_negative_and_bounded(release: int) -> None:
    legs = (debit(uuid4(), 5, release_held_minor=release), credit(uuid4(), 5))
    with pytest.raises(InvalidAmount):
        validate_legs(legs)


def test_hold_release_of_zero_and_just_below_the_bound_are_valid() -> None:
    validate_legs((debit(uuid4(), 5, release_held_minor=0), credit(uuid4(), 5)))
    validate_legs((debit(uuid4(), 5, release_held_minor=MAX_AMOUNT_MINOR - 1), credit(uuid4(), 5)))


@pytest.mark.parametrize(("debit_amount", "credit_amount"), [(100, 99), (99, 100)])
def test_debits_and_credits_must_be_equal(debit_amount: int, credit_amount: int) -> None:
    legs = (debit(uuid4(), debit_amount), credit(uuid4(), credit_amount))
    with pytest.raises(UnbalancedEntry) as caught:
        validate_legs(legs)
    assert caught.value.context == {"net_by_currency": {"USD": debit_amount - credit_amount}}


def test_two_debits_without_a_credit_are_unbalanced() -> None:
    with pytest.raises(UnbalancedEntry):
        validate_legs((debit(uuid4(), 100), debit(uuid4(), 100)))


def test_a_multi_currency_entry_balanced_in_each_currency_is_valid() -> None:
    validate_legs(
        (
            debit(uuid4(), 1000, "USD"),
            credit(uuid4(), 400, "USD"),
            credit(uuid4(), 600, "USD"),
            debit(uuid4(), 920, "EUR"),
            credit(uuid4(), 920, "EUR"),
        )
    )


def test_balance_is_per_currency_not_across_currencies() -> None:
    legs = (debit(uuid4(), 100, "USD"), credit(uuid4(), 100, "EUR"))
    with pytest.raises(UnbalancedEntry) as caught:
        validate_legs(legs)
    assert caught.value.context == {"net_by_currency": {"USD": 100, "EUR": -100}}


def test_only_the_unbalanced_currency_is_reported() -> None:
    legs = (*pair(500, "USD"), debit(uuid4(), 300, "EUR"), credit(uuid4(), 299, "EUR"))
    with pytest.raises(UnbalancedEntry) as caught:
        validate_legs(legs)
    assert caught.value.context == {"net_by_currency": {"EUR": 1}}


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(UnknownCurrency):
        validate_legs(pair(100, "ZZZ"))


def test_lower_case_currency_is_refused() -> None:
    with pytest.raises(UnknownCurrency):
        validate_legs(pair(100, "usd"))


def test_legs_on_one_account_must_share_a_currency() -> None:
    account = uuid4()
    legs = (
        debit(account, 100, "USD"),
        credit(uuid4(), 100, "USD"),
        debit(account, 100, "EUR"),
        credit(uuid4(), 100, "EUR"),
    )
    with pytest.raises(CurrencyMismatch) as caught:
        validate_legs(legs)
    assert caught.value.context == {"account_id": str(account)}


def test_legs_on_one_account_must_agree_on_its_kind() -> None:
    account = uuid4()
    legs = (
        debit(account, 100, required_kind=AccountKind.DEPOSIT),
        credit(account, 40),
        credit(uuid4(), 60),
    )
    with pytest.raises(InvalidInput) as caught:
        validate_legs(legs)
    assert caught.type is InvalidInput
    assert caught.value.context == {"account_id": str(account)}


def test_legs_on_one_account_with_the_same_kind_and_currency_are_valid() -> None:
    account = uuid4()
    validate_legs(
        (
            debit(account, 100, required_kind=AccountKind.DEPOSIT),
            debit(account, 50, required_kind=AccountKind.DEPOSIT),
            credit(uuid4(), 150, required_kind=AccountKind.GENERAL_LEDGER),
        )
    )


amount_lists = st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=40)


@given(amounts=amount_lists, currency_code=st.sampled_from(["USD", "JPY", "BHD"]))
def test_legs_built_to_balance_pass_and_any_one_removed_fails(
    amounts: list[int], currency_code: str
) -> None:
    legs = [debit(uuid4(), amount, currency_code) for amount in amounts]
    legs.append(credit(uuid4(), sum(amounts), currency_code))
    validate_legs(legs)
    for index in range(len(legs)):
        with pytest.raises(UnbalancedEntry):
            validate_legs(legs[:index] + legs[index + 1 :])


@given(amounts=amount_lists, data=st.data())
def test_balanced_legs_in_any_order_and_any_side_split_pass(
    amounts: list[int], data: st.DataObject
) -> None:
    sides = data.draw(st.lists(st.sampled_from(Side), min_size=len(amounts), max_size=len(amounts)))
    legs = [leg(uuid4(), side, amount) for side, amount in zip(sides, amounts, strict=True)]
    net = sum(a if s is Side.DEBIT else -a for s, a in zip(sides, amounts, strict=True))
    if net > 0:
        legs.append(credit(uuid4(), net))
    elif net < 0:
        legs.append(debit(uuid4(), -net))
    else:
        legs.extend(pair(7))
    legs = data.draw(st.permutations(legs))
    validate_legs(legs)


# ------------------------------------------------------------------------ PostingRequest


def test_a_valid_request_keeps_its_fields() -> None:
    legs = pair(250)
    made = request(legs, reference="r" * MAX_REFERENCE_LENGTH, channel=Channel.ATM)
    assert made.legs == legs
    assert made.reference == "r" * MAX_REFERENCE_LENGTH
    assert made.metadata == {}


def test_a_request_validates_its_legs() -> None:
    with pytest.raises(UnbalancedEntry):
        request((debit(uuid4(), 100), credit(uuid4(), 101)))


def test_reference_longer_than_the_maximum_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        request(reference="r" * (MAX_REFERENCE_LENGTH + 1))
    assert caught.value.context == {"field": "reference"}


def test_empty_and_missing_references_are_accepted() -> None:
    assert request(reference="").reference == ""
    assert request(reference=None).reference is None


def test_request_metadata_is_validated() -> None:
    with pytest.raises(InvalidInput) as caught:
        request(metadata={"rate": 1.5})
    assert caught.value.context == {"field": "metadata"}


def test_request_metadata_becomes_a_plain_copy() -> None:
    source = {"order": {"id": 7, "tags": ("a", "b")}}
    made = request(metadata=MappingProxyType(source))
    assert type(made.metadata) is dict
    assert made.metadata == {"order": {"id": 7, "tags": ["a", "b"]}}
    source["order"] = {"id": 8}
    assert made.metadata["order"]["id"] == 7


@pytest.mark.parametrize(
    "guards", [{"enforce_funds": True}, {"counts_toward_daily_limit": True}], ids=str
)
def test_limits_are_required_for_guarded_legs(guards: dict[str, bool]) -> None:
    legs = (debit(uuid4(), 100, "EUR", **guards), credit(uuid4(), 100, "EUR"))
    with pytest.raises(InvariantViolation) as caught:
        request(legs, limits={"USD": LIMITS["USD"]})
    assert caught.value.context == {"currencies": ["EUR"]}


def test_missing_limits_are_all_named_sorted() -> None:
    legs = (
        debit(uuid4(), 100, "USD", enforce_funds=True),
        credit(uuid4(), 100, "USD"),
        debit(uuid4(), 100, "EUR", counts_toward_daily_limit=True),
        credit(uuid4(), 100, "EUR"),
    )
    with pytest.raises(InvariantViolation) as caught:
        request(legs, limits={})
    assert caught.value.context == {"currencies": ["EUR", "USD"]}


def test_unguarded_legs_need_no_limits() -> None:
    made = request(pair(100, "JPY"), limits={})
    assert made.limits == {}


# ---------------------------------------------------------- post_to_account: bookkeeping


def test_a_credit_raises_a_liability_and_a_debit_lowers_it() -> None:
    account = make_account(posted_minor=1000)
    assert post_to_account(account, [credit(account, 250)], TODAY, LIMITS).posted_minor == 1250
    assert post_to_account(account, [debit(account, 250)], TODAY, LIMITS).posted_minor == 750


@pytest.mark.parametrize(
    ("account_type", "debit_effect"),
    [
        (AccountType.ASSET, 1),
        (AccountType.EXPENSE, 1),
        (AccountType.LIABILITY, -1),
        (AccountType.EQUITY, -1),
        (AccountType.INCOME, -1),
    ],
)
def test_balances_move_in_the_accounts_normal_direction(
    account_type: AccountType, debit_effect: int
) -> None:
    account = make_gl_account(account_type, posted_minor=500)
    after_debit = post_to_account(account, [debit(account, 100)], TODAY, LIMITS)
    after_credit = post_to_account(account, [credit(account, 100)], TODAY, LIMITS)
    assert after_debit.posted_minor == 500 + debit_effect * 100
    assert after_credit.posted_minor == 500 - debit_effect * 100


def test_several_legs_on_one_account_give_running_balances_and_first_seq() -> None:
    account = make_account(posted_minor=1000, line_seq=7)
    legs = [credit(account, 500), debit(account, 200), credit(account, 50)]
    posting = post_to_account(account, legs, TODAY, LIMITS)
    assert posting.account_id == account.id
    assert posting.first_seq == 8
    assert posting.balances_after == (1500, 1300, 1350)
    assert posting.posted_minor == 1350
    assert posting.held_minor == 0


def test_first_posting_on_a_new_account_is_seq_one() -> None:
    account = make_account()
    posting = post_to_account(account, [credit(account, 1)], TODAY, LIMITS)
    assert posting.first_seq == 1
    assert posting.balances_after == (1,)


@given(
    start=st.integers(min_value=-(10**12), max_value=10**12),
    moves=st.lists(
        st.tuples(st.sampled_from(Side), st.integers(min_value=1, max_value=10**12)),
        min_size=1,
        max_size=20,
    ),
    account_type=st.sampled_from(AccountType),
)
def test_balances_after_step_by_each_leg_and_end_at_posted(
    start: int, moves: list[tuple[Side, int]], account_type: AccountType
) -> None:
    account = make_gl_account(account_type, posted_minor=start, line_seq=3)
    legs = [leg(account, side, amount) for side, amount in moves]
    posting = post_to_account(account, legs, TODAY, LIMITS)
    assert len(posting.balances_after) == len(legs)
    assert posting.balances_after[-1] == posting.posted_minor
    previous = start
    for (side, amount), after in zip(moves, posting.balances_after, strict=True):
        step = amount if side is account_type.normal_side else -amount
        assert after - previous == step
        previous = after
    assert posting.first_seq == 4


# --------------------------------------------------------- post_to_account: currency/kind


def test_a_leg_in_another_currency_is_refused() -> None:
    account = make_account(posted_minor=1000)
    with pytest.raises(CurrencyMismatch) as caught:
        post_to_account(account, [credit(account, 100, "EUR")], TODAY, LIMITS)
    assert caught.value.context == {"account_id": str(account.id)}


def test_a_leg_requiring_a_deposit_account_refuses_a_gl_account() -> None:
    account = make_gl_account()
    legs = [debit(account, 100, required_kind=AccountKind.DEPOSIT)]
    with pytest.raises(WrongAccountKind) as caught:
        post_to_account(account, legs, TODAY, LIMITS)
    assert caught.value.context == {"account_id": str(account.id)}


def test_a_leg_requiring_a_gl_account_refuses_a_deposit_account() -> None:
    account = make_account(posted_minor=1000)
    with pytest.raises(WrongAccountKind):
        post_to_account(
            account, [credit(account, 100, required_kind=AccountKind.GENERAL_LEDGER)], TODAY, LIMITS
        )


def test_a_leg_requiring_the_right_kind_is_accepted() -> None:
    account = make_account(posted_minor=1000)
    legs = [debit(account, 100, required_kind=AccountKind.DEPOSIT)]
    assert post_to_account(account, legs, TODAY, LIMITS).posted_minor == 900


# ---------------------------------------------------------------- post_to_account: status


def test_a_dormant_account_accepts_credits() -> None:
    account = make_account(status=AccountStatus.DORMANT, posted_minor=100)
    posting = post_to_account(account, [credit(account, 50)], TODAY, LIMITS)
    assert posting.posted_minor == 150


def test_a_dormant_account_refuses_debits() -> None:
    account = make_account(status=AccountStatus.DORMANT, posted_minor=10_000)
    with pytest.raises(AccountNotOperational) as caught:
        post_to_account(account, [debit(account, 1)], TODAY, LIMITS)
    assert caught.value.context == {"account_id": str(account.id), "status": "dormant"}


def test_a_dormant_account_refuses_an_entry_with_any_debit_even_if_net_positive() -> None:
    account = make_account(status=AccountStatus.DORMANT, posted_minor=10_000)
    with pytest.raises(AccountNotOperational):
        post_to_account(account, [credit(account, 500), debit(account, 1)], TODAY, LIMITS)


@pytest.mark.parametrize("status", [AccountStatus.FROZEN, AccountStatus.CLOSED])
@pytest.mark.parametrize("side", list(Side))
def test_frozen_and_closed_accounts_move_nothing(status: AccountStatus, side: Side) -> None:
    account = make_account(status=status, posted_minor=10_000)
    with pytest.raises(AccountNotOperational) as caught:
        post_to_account(account, [leg(account, side, 1)], TODAY, LIMITS)
    assert caught.value.context["status"] == status.value


@pytest.mark.parametrize("status", [AccountStatus.FROZEN, AccountStatus.CLOSED])
def test_frozen_and_closed_gl_accounts_move_nothing(status: AccountStatus) -> None:
    account = make_gl_account(status=status)
    with pytest.raises(AccountNotOperational):
        post_to_account(account, [debit(account, 1)], TODAY, LIMITS)


# ------------------------------------------------------ post_to_account: the order of rules


def test_currency_is_checked_before_kind_and_status() -> None:
    account = make_gl_account(status=AccountStatus.FROZEN)
    legs = [debit(account, 1, "EUR", required_kind=AccountKind.DEPOSIT)]
    with pytest.raises(CurrencyMismatch):
        post_to_account(account, legs, TODAY, LIMITS)


def test_kind_is_checked_before_status() -> None:
    account = make_gl_account(status=AccountStatus.CLOSED)
    with pytest.raises(WrongAccountKind):
        post_to_account(
            account, [debit(account, 1, required_kind=AccountKind.DEPOSIT)], TODAY, LIMITS
        )


def test_status_is_checked_before_funds() -> None:
    account = make_account(status=AccountStatus.FROZEN, posted_minor=0)
    with pytest.raises(AccountNotOperational):
        post_to_account(account, [debit(account, 100, enforce_funds=True)], TODAY, LIMITS)


def test_funds_are_checked_before_the_daily_limit() -> None:
    account = make_account(posted_minor=100, daily_limit_minor=10)
    legs = [debit(account, 101, enforce_funds=True, counts_toward_daily_limit=True)]
    with pytest.raises(InsufficientFunds):
        post_to_account(account, legs, TODAY, LIMITS)


# ----------------------------------------------------------------- post_to_account: funds


def test_a_debit_down_to_exactly_the_floor_is_allowed() -> None:
    account = make_account(posted_minor=10_000)
    posting = post_to_account(account, [debit(account, 10_000, enforce_funds=True)], TODAY, LIMITS)
    assert posting.posted_minor == 0


def test_a_debit_one_unit_below_the_floor_is_refused() -> None:
    account = make_account(posted_minor=10_000)
    with pytest.raises(InsufficientFunds) as caught:
        post_to_account(account, [debit(account, 10_001, enforce_funds=True)], TODAY, LIMITS)
    assert caught.value.context == {"account_id": str(account.id)}


def test_held_funds_are_not_available() -> None:
    account = make_account(posted_minor=10_000, held_minor=2_500)
    ok = post_to_account(account, [debit(account, 7_500, enforce_funds=True)], TODAY, LIMITS)
    assert ok.posted_minor == 2_500
    assert ok.held_minor == 2_500
    with pytest.raises(InsufficientFunds):
        post_to_account(account, [debit(account, 7_501, enforce_funds=True)], TODAY, LIMITS)


def test_overdraft_extends_the_floor() -> None:
    account = make_account(posted_minor=1_000, overdraft_limit_minor=500)
    ok = post_to_account(account, [debit(account, 1_500, enforce_funds=True)], TODAY, LIMITS)
    assert ok.posted_minor == -500
    with pytest.raises(InsufficientFunds):
        post_to_account(account, [debit(account, 1_501, enforce_funds=True)], TODAY, LIMITS)


def test_account_min_balance_overrides_the_default() -> None:
    limits = {"USD": AccountLimits(min_balance_minor=500, daily_limit_minor=DEFAULT_DAILY)}
    account = make_account(posted_minor=1_000, min_balance_minor=100)
    ok = post_to_account(account, [debit(account, 900, enforce_funds=True)], TODAY, limits)
    assert ok.posted_minor == 100
    with pytest.raises(InsufficientFunds):
        post_to_account(account, [debit(account, 901, enforce_funds=True)], TODAY, limits)


def test_account_min_balance_of_zero_overrides_a_higher_default() -> None:
    limits = {"USD": AccountLimits(min_balance_minor=500, daily_limit_minor=DEFAULT_DAILY)}
    account = make_account(posted_minor=1_000, min_balance_minor=0)
    ok = post_to_account(account, [debit(account, 1_000, enforce_funds=True)], TODAY, limits)
    assert ok.posted_minor == 0


def test_default_min_balance_applies_without_an_override() -> None:
    limits = {"USD": AccountLimits(min_balance_minor=500, daily_limit_minor=DEFAULT_DAILY)}
    account = make_account(posted_minor=1_000)
    ok = post_to_account(account, [debit(account, 500, enforce_funds=True)], TODAY, limits)
    assert ok.posted_minor == 500
    with pytest.raises(InsufficientFunds):
        post_to_account(account, [debit(account, 501, enforce_funds=True)], TODAY, limits)


def test_floor_combines_min_balance_overdraft_and_holds() -> None:
    # available = posted - held + overdraft must stay >= min: 1600 - 2000 + 500 = 100.
    account = make_account(
        posted_minor=10_000, held_minor=2_000, overdraft_limit_minor=500, min_balance_minor=100
    )
    ok = post_to_account(account, [debit(account, 8_400, enforce_funds=True)], TODAY, LIMITS)
    assert ok.posted_minor == 1_600
    with pytest.raises(InsufficientFunds):
        post_to_account(account, [debit(account, 8_401, enforce_funds=True)], TODAY, LIMITS)


def test_without_enforce_funds_a_debit_may_overdraw() -> None:
    account = make_account(posted_minor=100)
    posting = post_to_account(account, [debit(account, 1_000)], TODAY, LIMITS)
    assert posting.posted_minor == -900


def test_one_enforcing_leg_makes_the_whole_fall_checked() -> None:
    account = make_account(posted_minor=100)
    legs = [debit(account, 80), debit(account, 21, enforce_funds=True)]
    with pytest.raises(InsufficientFunds):
        post_to_account(account, legs, TODAY, LIMITS)


def test_funds_are_checked_on_the_net_effect_of_all_legs() -> None:
    account = make_account(posted_minor=100)
    legs = [credit(account, 50), debit(account, 150, enforce_funds=True)]
    assert post_to_account(account, legs, TODAY, LIMITS).posted_minor == 0
    legs = [credit(account, 50), debit(account, 151, enforce_funds=True)]
    with pytest.raises(InsufficientFunds):
        post_to_account(account, legs, TODAY, LIMITS)


def test_a_credit_to_an_account_below_its_floor_is_allowed() -> None:
    account = make_account(posted_minor=-300, min_balance_minor=100)
    posting = post_to_account(account, [credit(account, 50, enforce_funds=True)], TODAY, LIMITS)
    assert posting.posted_minor == -250


@pytest.mark.parametrize("account_type", list(AccountType))
def test_gl_accounts_are_never_checked_for_funds(account_type: AccountType) -> None:
    account = make_gl_account(account_type, posted_minor=0, min_balance_minor=1_000)
    falling = Side.CREDIT if account_type.normal_side is Side.DEBIT else Side.DEBIT
    posting = post_to_account(
        account, [leg(account, falling, 10**12, enforce_funds=True)], TODAY, {}
    )
    assert posting.posted_minor == -(10**12)


@given(
    posted=st.integers(min_value=-(10**6), max_value=10**6),
    held=st.integers(min_value=0, max_value=10**6),
    overdraft=st.integers(min_value=0, max_value=10**6),
    minimum=st.one_of(st.none(), st.integers(min_value=-(10**6), max_value=10**6)),
    amount=st.integers(min_value=1, max_value=3 * 10**6),
)
def test_an_enforced_debit_succeeds_exactly_when_available_stays_at_the_minimum(
    posted: int, held: int, overdraft: int, minimum: int | None, amount: int
) -> None:
    limits = {"USD": AccountLimits(min_balance_minor=250, daily_limit_minor=DEFAULT_DAILY)}
    account = make_account(
        posted_minor=posted,
        held_minor=held,
        overdraft_limit_minor=overdraft,
        min_balance_minor=minimum,
    )
    floor = 250 if minimum is None else minimum
    allowed = posted - amount - held + overdraft >= floor
    legs = [debit(account, amount, enforce_funds=True)]
    if allowed:
        assert post_to_account(account, legs, TODAY, limits).posted_minor == posted - amount
    else:
        with pytest.raises(InsufficientFunds):
            post_to_account(account, legs, TODAY, limits)


# ----------------------------------------------------------- post_to_account: hold release


def test_releasing_a_hold_frees_the_funds_it_held() -> None:
    account = make_account(posted_minor=10_000, held_minor=8_000)
    capture = [debit(account, 9_000, enforce_funds=True, release_held_minor=8_000)]
    posting = post_to_account(account, capture, TODAY, LIMITS)
    assert posting.posted_minor == 1_000
    assert posting.held_minor == 0
    without_release = [debit(account, 9_000, enforce_funds=True)]
    with pytest.raises(InsufficientFunds):
        post_to_account(account, without_release, TODAY, LIMITS)


def test_a_partial_release_leaves_the_rest_held() -> None:
    account = make_account(posted_minor=10_000, held_minor=3_000)
    posting = post_to_account(account, [debit(account, 1_000, release_held_minor=1_000)], TODAY, {})
    assert posting.held_minor == 2_000
    assert posting.posted_minor == 9_000


def test_releasing_exactly_what_is_held_is_allowed_but_one_more_is_an_invariant_breach() -> None:
    account = make_account(posted_minor=10_000, held_minor=3_000)
    ok = post_to_account(account, [debit(account, 10, release_held_minor=3_000)], TODAY, {})
    assert ok.held_minor == 0
    with pytest.raises(InvariantViolation):
        post_to_account(account, [debit(account, 10, release_held_minor=3_001)], TODAY, {})


def test_releases_on_several_legs_add_up() -> None:
    account = make_account(posted_minor=10_000, held_minor=3_000)
    legs = [
        debit(account, 10, release_held_minor=1_000),
        debit(account, 10, release_held_minor=1_500),
    ]
    assert post_to_account(account, legs, TODAY, {}).held_minor == 500


# ----------------------------------------------------------- post_to_account: daily limit


def test_uncounted_legs_leave_the_daily_tally_alone() -> None:
    account = make_account(posted_minor=5_000, daily_debit_minor=700, daily_debit_date=YESTERDAY)
    posting = post_to_account(account, [debit(account, 100)], TODAY, LIMITS)
    assert posting.daily_debit_minor == 700
    assert posting.daily_debit_date == YESTERDAY


def test_a_counted_debit_up_to_the_default_limit_is_allowed() -> None:
    limits = {"USD": AccountLimits(min_balance_minor=0, daily_limit_minor=1_000)}
    account = make_account(posted_minor=5_000)
    posting = post_to_account(
        account, [debit(account, 1_000, counts_toward_daily_limit=True)], TODAY, limits
    )
    assert posting.daily_debit_minor == 1_000
    assert posting.daily_debit_date == TODAY


def test_a_counted_debit_one_unit_over_the_default_limit_is_refused() -> None:
    limits = {"USD": AccountLimits(min_balance_minor=0, daily_limit_minor=1_000)}
    account = make_account(posted_minor=5_000)
    with pytest.raises(DailyLimitExceeded) as caught:
        post_to_account(
            account, [debit(account, 1_001, counts_toward_daily_limit=True)], TODAY, limits
        )
    assert caught.value.context == {"account_id": str(account.id), "limit_minor": 1_000}


def test_earlier_debits_the_same_day_count() -> None:
    limits = {"USD": AccountLimits(min_balance_minor=0, daily_limit_minor=1_000)}
    account = make_account(posted_minor=5_000, daily_debit_minor=600, daily_debit_date=TODAY)
    ok = post_to_account(
        account, [debit(account, 400, counts_toward_daily_limit=True)], TODAY, limits
    )
    assert ok.daily_debit_minor == 1_000
    with pytest.raises(DailyLimitExceeded):
        post_to_account(
            account, [debit(account, 401, counts_toward_daily_limit=True)], TODAY, limits
        )


def test_the_daily_tally_resets_on_a_new_business_date() -> None:
    limits = {"USD": AccountLimits(min_balance_minor=0, daily_limit_minor=1_000)}
    account = make_account(posted_minor=5_000, daily_debit_minor=900, daily_debit_date=YESTERDAY)
    posting = post_to_account(
        account, [debit(account, 1_000, counts_toward_daily_limit=True)], TODAY, limits
    )
    assert posting.daily_debit_minor == 1_000
    assert posting.daily_debit_date == TODAY


def test_an_account_daily_limit_overrides_a_higher_default() -> None:
    account = make_account(posted_minor=5_000, daily_limit_minor=50)
    ok = post_to_account(
        account, [debit(account, 50, counts_toward_daily_limit=True)], TODAY, LIMITS
    )
    assert ok.daily_debit_minor == 50
    with pytest.raises(DailyLimitExceeded) as caught:
        post_to_account(
            account, [debit(account, 51, counts_toward_daily_limit=True)], TODAY, LIMITS
        )
    assert caught.value.context["limit_minor"] == 50


def test_an_account_daily_limit_overrides_a_lower_default() -> None:
    limits = {"USD": AccountLimits(min_balance_minor=0, daily_limit_minor=10)}
    account = make_account(posted_minor=5_000, daily_limit_minor=3_000)
    ok = post_to_account(
        account, [debit(account, 3_000, counts_toward_daily_limit=True)], TODAY, limits
    )
    assert ok.daily_debit_minor == 3_000


def test_an_account_daily_limit_of_zero_refuses_any_counted_debit() -> None:
    account = make_account(posted_minor=5_000, daily_limit_minor=0)
    with pytest.raises(DailyLimitExceeded):
        post_to_account(account, [debit(account, 1, counts_toward_daily_limit=True)], TODAY, LIMITS)


def test_every_counted_leg_adds_to_the_tally() -> None:
    limits = {"USD": AccountLimits(min_balance_minor=0, daily_limit_minor=1_000)}
    account = make_account(posted_minor=5_000)
    legs = [
        debit(account, 600, counts_toward_daily_limit=True),
        debit(account, 300),
        debit(account, 401, counts_toward_daily_limit=True),
    ]
    with pytest.raises(DailyLimitExceeded):
        post_to_account(account, legs, TODAY, limits)
    posting = post_to_account(
        account, [*legs[:2], debit(account, 400, counts_toward_daily_limit=True)], TODAY, limits
    )
    assert posting.daily_debit_minor == 1_000


# --------------------------------------------------------------------------- check_funds


def test_check_funds_uses_the_given_balances_not_the_accounts() -> None:
    account = make_account(posted_minor=1_000_000)
    check_funds(account, 0, 0, LIMITS)
    with pytest.raises(InsufficientFunds):
        check_funds(account, -1, 0, LIMITS)
    with pytest.raises(InsufficientFunds):
        check_funds(account, 100, 101, LIMITS)


def test_check_funds_boundaries_with_overdraft_and_minimum() -> None:
    account = make_account(overdraft_limit_minor=500, min_balance_minor=100)
    check_funds(account, -400, 0, LIMITS)
    check_funds(account, 0, 400, LIMITS)
    with pytest.raises(InsufficientFunds):
        check_funds(account, -401, 0, LIMITS)
    with pytest.raises(InsufficientFunds):
        check_funds(account, 0, 401, LIMITS)


def test_check_funds_with_a_negative_minimum_allows_going_below_zero() -> None:
    account = make_account(min_balance_minor=-1_000)
    check_funds(account, -1_000, 0, LIMITS)
    with pytest.raises(InsufficientFunds):
        check_funds(account, -1_001, 0, LIMITS)


def test_check_funds_uses_the_default_of_the_accounts_currency() -> None:
    limits = {
        "USD": AccountLimits(min_balance_minor=10, daily_limit_minor=DEFAULT_DAILY),
        "EUR": AccountLimits(min_balance_minor=99, daily_limit_minor=DEFAULT_DAILY),
    }
    account = make_account(currency="EUR")
    check_funds(account, 99, 0, limits)
    with pytest.raises(InsufficientFunds):
        check_funds(account, 98, 0, limits)


# --------------------------------------------------------------------- check_daily_limit


def test_check_daily_limit_returns_the_new_total() -> None:
    account = make_account(daily_debit_minor=300, daily_debit_date=TODAY)
    assert check_daily_limit(account, 200, TODAY, LIMITS) == 500


def test_check_daily_limit_starts_from_zero_on_another_day() -> None:
    account = make_account(daily_debit_minor=300, daily_debit_date=YESTERDAY)
    assert check_daily_limit(account, 200, TODAY, LIMITS) == 200


def test_check_daily_limit_counts_a_tally_with_no_date_as_zero() -> None:
    account = make_account(daily_debit_minor=300, daily_debit_date=None)
    assert check_daily_limit(account, 200, TODAY, LIMITS) == 200


def test_check_daily_limit_boundary() -> None:
    limits = {"USD": AccountLimits(min_balance_minor=0, daily_limit_minor=1_000)}
    account = make_account(daily_debit_minor=999, daily_debit_date=TODAY)
    assert check_daily_limit(account, 1, TODAY, limits) == 1_000
    with pytest.raises(DailyLimitExceeded):
        check_daily_limit(account, 2, TODAY, limits)


def test_check_daily_limit_prefers_the_account_override() -> None:
    limits = {"USD": AccountLimits(min_balance_minor=0, daily_limit_minor=1_000)}
    account = make_account(daily_limit_minor=5)
    assert check_daily_limit(account, 5, TODAY, limits) == 5
    with pytest.raises(DailyLimitExceeded) as caught:
        check_daily_limit(account, 6, TODAY, limits)
    assert caught.value.context["limit_minor"] == 5


# ------------------------------------------------------------------------- reversal_legs


def journal_entry(lines: list[tuple[UUID, Side, int, str]]) -> JournalEntry:
    return JournalEntry(
        id=uuid4(),
        entry_type=EntryType.TRANSFER,
        business_date=TODAY,
        value_date=TODAY,
        posted_at=CREATED,
        actor="teller-1",
        channel=Channel.BRANCH,
        reference=None,
        metadata={},
        request_id=None,
        reversal_of=None,
        lines=tuple(
            JournalLine(
                line_no=number,
                account_id=account_id,
                side=side,
                amount_minor=amount,
                currency=code,
                account_seq=number,
                balance_after_minor=0,
            )
            for number, (account_id, side, amount, code) in enumerate(lines, start=1)
        ),
    )


def test_reversal_legs_flip_every_line_and_enforce_funds() -> None:
    a, b, c = uuid4(), uuid4(), uuid4()
    entry = journal_entry(
        [
            (a, Side.DEBIT, 1_000, "USD"),
            (b, Side.CREDIT, 600, "USD"),
            (c, Side.CREDIT, 400, "USD"),
        ]
    )
    assert reversal_legs(entry) == (
        Leg(a, Side.CREDIT, 1_000, "USD", enforce_funds=True),
        Leg(b, Side.DEBIT, 600, "USD", enforce_funds=True),
        Leg(c, Side.DEBIT, 400, "USD", enforce_funds=True),
    )


def test_reversal_legs_carry_no_daily_limit_kind_or_release() -> None:
    entry = journal_entry([(uuid4(), Side.DEBIT, 5, "EUR"), (uuid4(), Side.CREDIT, 5, "EUR")])
    for reversed_leg in reversal_legs(entry):
        assert reversed_leg.counts_toward_daily_limit is False
        assert reversed_leg.required_kind is None
        assert reversed_leg.release_held_minor == 0
        assert reversed_leg.currency == "EUR"


def test_reversal_legs_of_a_balanced_entry_balance() -> None:
    entry = journal_entry(
        [
            (uuid4(), Side.DEBIT, 700, "USD"),
            (uuid4(), Side.CREDIT, 700, "USD"),
            (uuid4(), Side.DEBIT, 90, "JPY"),
            (uuid4(), Side.CREDIT, 90, "JPY"),
        ]
    )
    legs = reversal_legs(entry)
    validate_legs(legs)
    assert [x.side for x in legs] == [Side.CREDIT, Side.DEBIT, Side.CREDIT, Side.DEBIT]


def test_a_reversal_undoes_the_entry_on_each_account() -> None:
    customer = make_account(posted_minor=1_000)
    cash = make_gl_account(posted_minor=5_000)
    entry = journal_entry(
        [(cash.id, Side.DEBIT, 300, "USD"), (customer.id, Side.CREDIT, 300, "USD")]
    )
    legs = reversal_legs(entry)
    assert post_to_account(customer, [legs[1]], TODAY, LIMITS).posted_minor == 700
    assert post_to_account(cash, [legs[0]], TODAY, LIMITS).posted_minor == 4_700


def test_a_reversal_cannot_take_back_more_than_the_customer_has() -> None:
    customer = make_account(posted_minor=299)
    entry = journal_entry(
        [(uuid4(), Side.DEBIT, 300, "USD"), (customer.id, Side.CREDIT, 300, "USD")]
    )
    with pytest.raises(InsufficientFunds):
        post_to_account(customer, [reversal_legs(entry)[1]], TODAY, LIMITS)
