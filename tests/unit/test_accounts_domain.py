"""Unit tests for accounts, the chart of accounts, customers and holds: status life cycles,
account numbers, fixed GL ids, name cleaning and the hold rules."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from core_banking.domain.accounts import (
    ACCOUNT_NUMBER_LENGTH,
    Account,
    AccountKind,
    AccountStatus,
    AccountType,
    Side,
    check_transition,
    is_valid_account_number,
    new_account_number,
)
from core_banking.domain.chart import CHART, GLCode, gl_account_id
from core_banking.domain.customers import (
    MAX_NAME_LENGTH,
    CustomerStatus,
    check_customer_transition,
    clean_name,
)
from core_banking.domain.errors import (
    AccountNotOperational,
    CurrencyMismatch,
    DailyLimitExceeded,
    HoldAmountExceeded,
    HoldNotActive,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    InvalidTransition,
)
from core_banking.domain.holds import Hold, HoldStatus, place_hold
from core_banking.domain.ledger import AccountLimits
from core_banking.domain.money import MAX_AMOUNT_MINOR, all_currencies

TODAY = date(2025, 6, 30)
YESTERDAY = TODAY - timedelta(days=1)
NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
LIMITS = {"USD": AccountLimits(min_balance_minor=0, daily_limit_minor=100_000)}

# A valid number computed by hand: 1234567890 * 100 mod 97 = 6, so the check is 98 - 6.
KNOWN_VALID = "123456789092"


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
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(changes)
    return Account(**fields)


def make_hold(**changes: Any) -> Hold:
    fields: dict[str, Any] = {
        "id": uuid4(),
        "account_id": uuid4(),
        "amount_minor": 5_000,
        "currency": "USD",
        "status": HoldStatus.ACTIVE,
        "expires_at": NOW + timedelta(days=7),
        "reference": None,
        "captured_minor": 0,
        "capture_entry_id": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(changes)
    return Hold(**fields)


# --------------------------------------------------------------------- sides and types


NORMAL_SIDES = {
    AccountType.ASSET: Side.DEBIT,
    AccountType.EXPENSE: Side.DEBIT,
    AccountType.LIABILITY: Side.CREDIT,
    AccountType.EQUITY: Side.CREDIT,
    AccountType.INCOME: Side.CREDIT,
}


@pytest.mark.parametrize(("account_type", "side"), NORMAL_SIDES.items())
def test_normal_side_per_account_type(account_type: AccountType, side: Side) -> None:
    assert account_type.normal_side is side


def test_the_normal_side_table_names_every_account_type() -> None:
    assert set(NORMAL_SIDES) == set(AccountType)


def test_opposite_sides() -> None:
    assert Side.DEBIT.opposite is Side.CREDIT
    assert Side.CREDIT.opposite is Side.DEBIT


def test_available_balance_is_posted_minus_held_plus_overdraft() -> None:
    account = make_account(posted_minor=1_000, held_minor=300, overdraft_limit_minor=50)
    assert account.available_minor == 750


def test_daily_debits_count_only_on_their_own_date() -> None:
    account = make_account(daily_debit_minor=400, daily_debit_date=TODAY)
    assert account.daily_debits_on(TODAY) == 400
    assert account.daily_debits_on(YESTERDAY) == 0


# ------------------------------------------------------------------- account life cycle

A = AccountStatus
ALLOWED_ACCOUNT_TRANSITIONS = {
    (A.ACTIVE, A.FROZEN),
    (A.ACTIVE, A.DORMANT),
    (A.ACTIVE, A.CLOSED),
    (A.DORMANT, A.ACTIVE),
    (A.DORMANT, A.FROZEN),
    (A.DORMANT, A.CLOSED),
    (A.FROZEN, A.ACTIVE),
}
ALL_ACCOUNT_PAIRS = [(current, target) for current in A for target in A]


@pytest.mark.parametrize(("current", "target"), ALL_ACCOUNT_PAIRS, ids=str)
def test_account_transition_matrix(current: AccountStatus, target: AccountStatus) -> None:
    if (current, target) in ALLOWED_ACCOUNT_TRANSITIONS:
        check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition) as caught:
            check_transition(current, target)
        assert caught.value.context == {"current": current.value, "target": target.value}


def test_a_frozen_account_must_be_unfrozen_before_closing() -> None:
    with pytest.raises(InvalidTransition):
        check_transition(A.FROZEN, A.CLOSED)
    check_transition(A.FROZEN, A.ACTIVE)
    check_transition(A.ACTIVE, A.CLOSED)


# ------------------------------------------------------------------------ account numbers


def test_the_hand_computed_number_is_valid() -> None:
    assert is_valid_account_number(KNOWN_VALID)
    assert not is_valid_account_number("123456789091")


def test_new_account_numbers_are_valid_twelve_digits_without_a_leading_zero() -> None:
    numbers = [new_account_number() for _ in range(5_000)]
    for number in numbers:
        assert len(number) == ACCOUNT_NUMBER_LENGTH == 12
        assert number.isascii()
        assert number.isdigit()
        assert number[0] != "0"
        assert int(number) % 97 == 1
        assert is_valid_account_number(number)
    assert len(set(numbers)) > 4_990


def test_new_account_numbers_use_every_leading_digit() -> None:
    leading = {new_account_number()[0] for _ in range(2_000)}
    assert leading == set("123456789")


def sample_valid_numbers() -> list[str]:
    fixed = ["1000000000", "9999999999", "1234567890", "5000000001"]
    numbers = [base + f"{98 - (int(base) * 100) % 97:02d}" for base in fixed]
    numbers += [new_account_number() for _ in range(25)]
    assert all(is_valid_account_number(n) for n in numbers)
    return numbers


def test_every_single_digit_substitution_is_rejected() -> None:
    numbers = sample_valid_numbers()
    checked = 0
    for number in numbers:
        for position in range(ACCOUNT_NUMBER_LENGTH):
            for digit in "0123456789":
                if digit == number[position]:
                    continue
                altered = number[:position] + digit + number[position + 1 :]
                assert not is_valid_account_number(altered), (number, altered)
                checked += 1
    assert checked == len(numbers) * ACCOUNT_NUMBER_LENGTH * 9


def test_every_adjacent_transposition_is_rejected() -> None:
    checked = 0
    for number in sample_valid_numbers():
        for position in range(ACCOUNT_NUMBER_LENGTH - 1):
            a, b = number[position], number[position + 1]
            if a == b:
                continue
            swapped = number[:position] + b + a + number[position + 2 :]
            assert not is_valid_account_number(swapped), (number, swapped)
            checked += 1
    assert checked > 0


@pytest.mark.parametrize(
    "base",
    [
        "1000000063",  # check digits 98: "01" also leaves the number = 1 (mod 97)
        "1000000031",  # check digits 97: "00" likewise
        "1000000095",  # check digits 02: "99" likewise
        "1234567890",  # check digits 92: no alias
    ],
)
def test_only_the_computed_check_digits_are_accepted(base: str) -> None:
    # ISO 7064 MOD 97-10 check digits are 98 - (base * 100 mod 97), always 02..98 (the IBAN
    # rule); the numbers new_account_number issues never end in 00, 01 or 99.
    check = 98 - (int(base) * 100) % 97
    accepted = [f"{cd:02d}" for cd in range(100) if is_valid_account_number(f"{base}{cd:02d}")]
    assert accepted == [f"{check:02d}"]


@pytest.mark.parametrize(
    "number",
    [
        "",
        KNOWN_VALID[:-1],
        KNOWN_VALID + "0",
        "0" + KNOWN_VALID,
        " " + KNOWN_VALID[1:],
        KNOWN_VALID[:-1] + " ",
        "+" + KNOWN_VALID[1:],
        "12345678907a",
        "1234-5678-9078",
    ],
)
def test_malformed_numbers_are_rejected(number: str) -> None:
    assert not is_valid_account_number(number)


@pytest.mark.parametrize(
    "digits_for",
    [
        lambda c: chr(0xFF10 + int(c)),  # FULLWIDTH DIGIT
        lambda c: chr(0x0660 + int(c)),  # ARABIC-INDIC DIGIT
        lambda c: chr(0x0966 + int(c)),  # DEVANAGARI DIGIT
    ],
    ids=["fullwidth", "arabic-indic", "devanagari"],
)
def test_non_ascii_digits_are_rejected(digits_for: Any) -> None:
    lookalike = "".join(digits_for(c) for c in KNOWN_VALID)
    assert lookalike.isdigit()
    assert int(lookalike) % 97 == 1  # Python reads them as the same number
    assert not is_valid_account_number(lookalike)


def test_a_single_non_ascii_digit_is_rejected() -> None:
    number = KNOWN_VALID[:-1] + chr(0xFF10 + int(KNOWN_VALID[-1]))
    assert not is_valid_account_number(number)


def test_superscript_digits_are_rejected() -> None:
    assert not is_valid_account_number(KNOWN_VALID[:-1] + "\u2078")


# --------------------------------------------------------------------------------- chart


def test_gl_ids_are_deterministic() -> None:
    for code in GLCode:
        assert gl_account_id(code, "USD") == gl_account_id(code, "USD")


def test_gl_ids_are_name_based_uuid5() -> None:
    found = gl_account_id(GLCode.CASH, "EUR")
    assert found.version == 5
    namespace = uuid.UUID("6f1c3a52-4d8e-4f0e-9a57-1d3c2b7e9a10")
    assert found == uuid.uuid5(namespace, "gl:1000:EUR")


def test_gl_ids_are_distinct_for_every_code_and_currency() -> None:
    ids = {
        (code, unit.code): gl_account_id(code, unit.code)
        for code in GLCode
        for unit in all_currencies()
    }
    assert len(set(ids.values())) == len(ids) == len(GLCode) * len(all_currencies())


def test_the_chart_names_every_code_once() -> None:
    assert [spec.code for spec in CHART] == list(GLCode)
    assert {spec.code: spec.account_type for spec in CHART} == {
        GLCode.CASH: AccountType.ASSET,
        GLCode.EXTERNAL_CLEARING: AccountType.ASSET,
        GLCode.LOANS_RECEIVABLE: AccountType.ASSET,
        GLCode.INTEREST_RECEIVABLE: AccountType.ASSET,
        GLCode.FEES_RECEIVABLE: AccountType.ASSET,
        GLCode.CREDIT_LINES_RECEIVABLE: AccountType.ASSET,
        GLCode.INTEREST_PAYABLE: AccountType.LIABILITY,
        GLCode.LOAN_CREDITS: AccountType.LIABILITY,
        GLCode.SUSPENSE: AccountType.LIABILITY,
        GLCode.RETAINED_EARNINGS: AccountType.EQUITY,
        GLCode.INTEREST_INCOME: AccountType.INCOME,
        GLCode.FEE_INCOME: AccountType.INCOME,
        GLCode.PENALTY_INCOME: AccountType.INCOME,
        GLCode.INTEREST_EXPENSE: AccountType.EXPENSE,
        GLCode.LOAN_LOSS_EXPENSE: AccountType.EXPENSE,
    }


# ----------------------------------------------------------------------------- customers


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Ada", "Ada"),
        ("  Ada  ", "Ada"),
        ("\tAda Lovelace\n", "Ada Lovelace"),
        ("Zoë Ødegård", "Zoë Ødegård"),
        ("x", "x"),
        ("n" * MAX_NAME_LENGTH, "n" * MAX_NAME_LENGTH),
        ("  " + "n" * MAX_NAME_LENGTH + "  ", "n" * MAX_NAME_LENGTH),
    ],
)
def test_clean_name_trims_and_accepts(raw: str, cleaned: str) -> None:
    assert clean_name(raw, "given_name") == cleaned


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "\t\n",
        "n" * (MAX_NAME_LENGTH + 1),
        "Ada\x00Lovelace",
        "Ada\nLovelace",
        "Ada\x1bLovelace",
        "Ada\u200bLovelace",  # zero-width space: not printable
    ],
)
def test_clean_name_refuses(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_name(raw, "family_name")
    assert caught.value.context == {"field": "family_name"}


@pytest.mark.parametrize("raw", [None, 42, b"Ada"])
def test_clean_name_refuses_non_strings(raw: Any) -> None:
    with pytest.raises(InvalidInput):
        clean_name(raw, "given_name")


C = CustomerStatus
ALLOWED_CUSTOMER_TRANSITIONS = {
    (C.ACTIVE, C.SUSPENDED),
    (C.ACTIVE, C.CLOSED),
    (C.SUSPENDED, C.ACTIVE),
    (C.SUSPENDED, C.CLOSED),
}


@pytest.mark.parametrize(("current", "target"), [(a, b) for a in C for b in C], ids=str)
def test_customer_transition_matrix(current: CustomerStatus, target: CustomerStatus) -> None:
    if (current, target) in ALLOWED_CUSTOMER_TRANSITIONS:
        check_customer_transition(current, target)
    else:
        with pytest.raises(InvalidTransition) as caught:
            check_customer_transition(current, target)
        assert caught.value.context == {"current": current.value, "target": target.value}


# ------------------------------------------------------------------------------ holds


def test_place_hold_raises_held_and_counts_the_daily_limit() -> None:
    account = make_account(posted_minor=10_000, held_minor=1_000)
    placed = place_hold(account, 2_500, "USD", TODAY, LIMITS)
    assert placed.held_minor == 3_500
    assert placed.daily_debit_minor == 2_500
    assert placed.daily_debit_date == TODAY


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT_MINOR])
def test_place_hold_refuses_bad_amounts(amount: int) -> None:
    account = make_account(posted_minor=10**16)
    with pytest.raises(InvalidAmount):
        place_hold(account, amount, "USD", TODAY, LIMITS)


def test_place_hold_refuses_another_currency() -> None:
    account = make_account(posted_minor=10_000)
    with pytest.raises(CurrencyMismatch):
        place_hold(account, 100, "EUR", TODAY, LIMITS)


@pytest.mark.parametrize("status", [A.DORMANT, A.FROZEN, A.CLOSED])
def test_place_hold_needs_an_active_account(status: AccountStatus) -> None:
    account = make_account(status=status, posted_minor=10_000)
    with pytest.raises(AccountNotOperational) as caught:
        place_hold(account, 100, "USD", TODAY, LIMITS)
    assert caught.value.context["status"] == status.value


def test_place_hold_up_to_the_available_balance() -> None:
    account = make_account(posted_minor=10_000, held_minor=2_000, overdraft_limit_minor=500)
    assert place_hold(account, 8_500, "USD", TODAY, LIMITS).held_minor == 10_500
    with pytest.raises(InsufficientFunds):
        place_hold(account, 8_501, "USD", TODAY, LIMITS)


def test_place_hold_respects_the_minimum_balance() -> None:
    account = make_account(posted_minor=10_000, min_balance_minor=1_000)
    place_hold(account, 9_000, "USD", TODAY, LIMITS)
    with pytest.raises(InsufficientFunds):
        place_hold(account, 9_001, "USD", TODAY, LIMITS)


def test_place_hold_respects_the_daily_limit_and_resets_it_on_a_new_day() -> None:
    account = make_account(
        posted_minor=10**9, daily_limit_minor=1_000, daily_debit_minor=700, daily_debit_date=TODAY
    )
    assert place_hold(account, 300, "USD", TODAY, LIMITS).daily_debit_minor == 1_000
    with pytest.raises(DailyLimitExceeded):
        place_hold(account, 301, "USD", TODAY, LIMITS)
    tomorrow = TODAY + timedelta(days=1)
    placed = place_hold(account, 1_000, "USD", tomorrow, LIMITS)
    assert placed.daily_debit_minor == 1_000
    assert placed.daily_debit_date == tomorrow


def test_capture_of_part_or_all_of_a_live_hold() -> None:
    hold = make_hold(amount_minor=5_000)
    hold.check_capturable(1, NOW)
    hold.check_capturable(5_000, NOW)


@pytest.mark.parametrize("amount", [0, -1])
def test_capture_of_a_non_positive_amount_is_refused(amount: int) -> None:
    with pytest.raises(InvalidAmount):
        make_hold().check_capturable(amount, NOW)


def test_capture_of_more_than_the_hold_is_refused() -> None:
    hold = make_hold(amount_minor=5_000)
    with pytest.raises(HoldAmountExceeded) as caught:
        hold.check_capturable(5_001, NOW)
    assert caught.value.context == {"hold_id": str(hold.id)}


@pytest.mark.parametrize("status", [HoldStatus.CAPTURED, HoldStatus.RELEASED, HoldStatus.EXPIRED])
def test_a_hold_that_is_not_active_cannot_be_captured_or_released(status: HoldStatus) -> None:
    hold = make_hold(status=status)
    with pytest.raises(HoldNotActive):
        hold.check_capturable(1, NOW)
    with pytest.raises(HoldNotActive):
        hold.check_live(NOW)
    with pytest.raises(HoldNotActive):
        hold.check_releasable()


def test_liveness_is_checked_before_the_amount() -> None:
    hold = make_hold(status=HoldStatus.RELEASED, amount_minor=10)
    with pytest.raises(HoldNotActive):
        hold.check_capturable(11, NOW)


def test_a_hold_is_live_until_just_before_its_expiry() -> None:
    hold = make_hold(expires_at=NOW)
    just_before = NOW - timedelta(microseconds=1)
    assert not hold.is_expired(just_before)
    hold.check_live(just_before)
    hold.check_capturable(1, just_before)


def test_a_hold_has_expired_at_exactly_its_expiry_time() -> None:
    hold = make_hold(expires_at=NOW)
    assert hold.is_expired(NOW)
    with pytest.raises(HoldNotActive):
        hold.check_live(NOW)
    with pytest.raises(HoldNotActive):
        hold.check_capturable(1, NOW)
    with pytest.raises(HoldNotActive):
        hold.check_capturable(1, NOW + timedelta(days=1))


def test_a_hold_without_expiry_never_expires() -> None:
    hold = make_hold(expires_at=None)
    far_future = NOW + timedelta(days=365 * 50)
    assert not hold.is_expired(far_future)
    hold.check_capturable(1, far_future)


def test_an_active_hold_past_its_expiry_can_still_be_released() -> None:
    hold = make_hold(expires_at=NOW - timedelta(hours=1))
    hold.check_releasable()
    with pytest.raises(HoldNotActive):
        hold.check_live(NOW)
