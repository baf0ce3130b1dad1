"""Unit tests for the audit chain, canonical JSON, idempotency keys and fingerprints, entry
metadata, UUIDv7 ids and command parameters."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from types import MappingProxyType
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core_banking.domain.accounts import ProductType
from core_banking.domain.audit import (
    AuditRecord,
    StoredAuditRecord,
    chain_hash,
    first_break,
    genesis_hash,
)
from core_banking.domain.canonical import canonical_json
from core_banking.domain.commands import (
    CaptureHold,
    Counterparty,
    Deposit,
    OpenAccount,
    ReceiveExternalTransfer,
    Reverse,
    Transfer,
    parameters,
)
from core_banking.domain.errors import InvalidInput
from core_banking.domain.idempotency import MAX_KEY_LENGTH, fingerprint, validate_key
from core_banking.domain.ids import uuid7
from core_banking.domain.ledger import Channel
from core_banking.domain.metadata import (
    MAX_DEPTH,
    MAX_ENCODED_BYTES,
    MAX_KEYS,
    MAX_STRING_LENGTH,
    validate_metadata,
)
from core_banking.domain.metadata import (
    MAX_KEY_LENGTH as MAX_METADATA_KEY_LENGTH,
)
from core_banking.domain.money import Money

WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
ACCOUNT_A = UUID("018f2b6e-0000-7000-8000-00000000000a")
ACCOUNT_B = UUID("018f2b6e-0000-7000-8000-00000000000b")


# ------------------------------------------------------------------------------- audit


def record(**changes: Any) -> AuditRecord:
    fields: dict[str, Any] = {
        "occurred_at": WHEN,
        "actor": "teller-1",
        "action": "deposit",
        "entity_type": "entry",
        "entity_id": "e-1",
        "request_id": None,
        "details": {},
    }
    fields.update(changes)
    return AuditRecord(**fields)


def test_audit_payload_is_canonical_json() -> None:
    payload = record(request_id="req-9", details={"b": 2, "a": "ü"}).payload()
    assert payload == (
        '{"action":"deposit","actor":"teller-1","details":{"a":"ü","b":2},'
        '"entity_id":"e-1","entity_type":"entry","occurred_at":"2025-01-02T03:04:05+00:00",'
        '"request_id":"req-9"}'
    )


def test_audit_payload_is_stable_across_detail_order_and_calls() -> None:
    first = record(details={"x": 1, "y": [1, 2], "z": {"q": None}})
    second = record(details=MappingProxyType({"z": {"q": None}, "y": [1, 2], "x": 1}))
    assert first.payload() == second.payload() == first.payload()


def test_audit_payload_changes_with_every_field() -> None:
    base = record().payload()
    changed = [
        record(occurred_at=WHEN + timedelta(microseconds=1)),
        record(actor="teller-2"),
        record(action="withdrawal"),
        record(entity_type="account"),
        record(entity_id="e-2"),
        record(request_id="r"),
        record(details={"k": "v"}),
    ]
    payloads = {r.payload() for r in changed}
    assert base not in payloads
    assert len(payloads) == len(changed)


def test_audit_payload_refuses_a_naive_timestamp() -> None:
    with pytest.raises(TypeError):
        record(occurred_at=datetime(2025, 1, 2, 3, 4, 5)).payload()


def test_genesis_hash_is_sha256_of_the_shard_label_and_differs_per_shard() -> None:
    assert genesis_hash(0) == hashlib.sha256(b"nexum-audit-genesis:0").digest()
    assert genesis_hash(63) == hashlib.sha256(b"nexum-audit-genesis:63").digest()
    assert len({genesis_hash(shard) for shard in range(64)}) == 64


def test_chain_hash_is_sha256_of_previous_then_utf8_payload() -> None:
    previous = bytes(range(32))
    payload = '{"name":"Zoë"}'
    expected = hashlib.sha256()
    expected.update(previous)
    expected.update(payload.encode("utf-8"))
    assert chain_hash(previous, payload) == expected.digest()
    assert len(chain_hash(previous, payload)) == 32


def build_chain(shard: int, count: int) -> tuple[list[StoredAuditRecord], bytes]:
    """A correct chain computed independently with hashlib; returns records and head hash."""
    previous = hashlib.sha256(f"nexum-audit-genesis:{shard}".encode()).digest()
    records = []
    for seq in range(1, count + 1):
        payload = record(entity_id=f"e-{seq}", details={"n": seq}).payload()
        digest = hashlib.sha256(previous + payload.encode("utf-8")).digest()
        records.append(StoredAuditRecord(shard=shard, seq=seq, payload=payload, hash=digest))
        previous = digest
    return records, previous


def test_a_clean_chain_has_no_break() -> None:
    records, head = build_chain(5, 4)
    assert first_break(5, records, 4, head) is None


def test_an_empty_chain_with_an_empty_head_has_no_break() -> None:
    assert first_break(5, [], 0, genesis_hash(5)) is None


def test_a_changed_payload_is_found() -> None:
    records, head = build_chain(5, 4)
    records[1] = dataclasses.replace(records[1], payload=records[1].payload.replace("e-2", "e-X"))
    assert first_break(5, records, 4, head) == "audit shard 5: hash mismatch at seq 2"


def test_a_changed_payload_with_its_own_hash_recomputed_breaks_the_next_link() -> None:
    records, head = build_chain(5, 4)
    tampered = records[1].payload.replace("e-2", "e-X")
    records[1] = dataclasses.replace(
        records[1], payload=tampered, hash=chain_hash(records[0].hash, tampered)
    )
    assert first_break(5, records, 4, head) == "audit shard 5: hash mismatch at seq 3"


def test_a_changed_hash_is_found() -> None:
    records, head = build_chain(5, 4)
    records[0] = dataclasses.replace(records[0], hash=b"\x00" * 32)
    assert first_break(5, records, 4, head) == "audit shard 5: hash mismatch at seq 1"


def test_a_wrong_seq_is_found() -> None:
    records, head = build_chain(5, 4)
    records[2] = dataclasses.replace(records[2], seq=7)
    assert first_break(5, records, 4, head) == "audit shard 5: expected seq 3, found 7"


def test_a_missing_record_is_found() -> None:
    records, head = build_chain(5, 4)
    del records[1]
    assert first_break(5, records, 4, head) == "audit shard 5: expected seq 2, found 3"


def test_a_missing_first_record_is_found() -> None:
    records, head = build_chain(5, 4)
    assert first_break(5, records[1:], 4, head) == "audit shard 5: expected seq 1, found 2"


def test_swapped_records_are_found() -> None:
    records, head = build_chain(5, 4)
    records[1], records[2] = records[2], records[1]
    assert first_break(5, records, 4, head) == "audit shard 5: expected seq 2, found 3"


def test_an_extra_record_beyond_the_head_is_found() -> None:
    records, _ = build_chain(5, 5)
    head_of_four = records[3].hash
    assert (
        first_break(5, records, 4, head_of_four)
        == "audit shard 5: head at seq 4 does not match the chain"
    )


def test_an_extra_duplicated_record_is_found() -> None:
    records, head = build_chain(5, 4)
    records.insert(2, records[1])
    assert first_break(5, records, 4, head) == "audit shard 5: expected seq 3, found 2"


def test_a_head_with_the_wrong_hash_is_found() -> None:
    records, head = build_chain(5, 4)
    wrong = bytes(b ^ 0x01 for b in head)
    assert (
        first_break(5, records, 4, wrong) == "audit shard 5: head at seq 4 does not match the chain"
    )


def test_a_head_with_the_wrong_seq_is_found() -> None:
    records, head = build_chain(5, 4)
    assert first_break(5, records, 5, head) is not None
    assert first_break(5, records, 3, head) is not None


def test_a_truncated_tail_is_found() -> None:
    records, head = build_chain(5, 4)
    assert (
        first_break(5, records[:-1], 4, head)
        == "audit shard 5: head at seq 4 does not match the chain"
    )


def test_an_emptied_chain_with_an_advanced_head_is_found() -> None:
    _, head = build_chain(5, 2)
    assert first_break(5, [], 2, head) == "audit shard 5: head at seq 2 does not match the chain"


def test_a_chain_checked_under_another_shard_breaks_at_the_first_record() -> None:
    records, head = build_chain(5, 2)
    assert first_break(6, records, 2, head) == "audit shard 6: hash mismatch at seq 1"


def test_first_break_accepts_any_iterable() -> None:
    records, head = build_chain(1, 3)
    assert first_break(1, iter(records), 3, head) is None


# --------------------------------------------------------------------------- canonical


class Colour(Enum):
    RED = "red"
    NUMBER = 7


class Size(StrEnum):
    LARGE = "L"


class Level(IntEnum):
    HIGH = 3


def test_canonical_json_sorts_keys_at_every_level_and_is_compact() -> None:
    value = {"b": 1, "a": {"d": [3, {"z": 1, "y": 2}], "c": None}}
    assert canonical_json(value) == '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}'


def test_canonical_json_is_the_same_for_any_insertion_order() -> None:
    assert canonical_json({"x": 1, "y": 2}) == canonical_json({"y": 2, "x": 1})


def test_canonical_json_keeps_non_ascii_text_as_utf8() -> None:
    assert canonical_json({"name": "Zoë 日本"}) == '{"name":"Zoë 日本"}'


def test_canonical_json_renders_rich_types_as_exact_strings() -> None:
    value = {
        "id": UUID("12345678-1234-5678-1234-567812345678"),
        "day": date(2025, 2, 3),
        "amount": Decimal("10.50"),
        "tiny": Decimal("0.0001"),
        "colour": Colour.RED,
        "number_enum": Colour.NUMBER,
        "size": Size.LARGE,
        "level": Level.HIGH,
        "raw": b"\x01\xff",
    }
    assert json.loads(canonical_json(value)) == {
        "id": "12345678-1234-5678-1234-567812345678",
        "day": "2025-02-03",
        "amount": "10.50",
        "tiny": "0.0001",
        "colour": "red",
        "number_enum": "7",
        "size": "L",
        "level": 3,
        "raw": "01ff",
    }


def test_canonical_json_keeps_decimal_trailing_zeros() -> None:
    assert canonical_json([Decimal("1.0"), Decimal("1.00")]) == '["1.0","1.00"]'


def test_canonical_json_renders_every_moment_in_utc() -> None:
    """One moment, one text: the same instant written in two zones canonicalises equally
    (a retried request whose client changed zone is still the same request)."""
    plus_two = timezone(timedelta(hours=2))
    assert canonical_json([WHEN]) == '["2025-01-02T03:04:05+00:00"]'
    in_plus_two = datetime(2025, 1, 2, 3, 4, 5, 600, tzinfo=plus_two)
    assert canonical_json([in_plus_two]) == '["2025-01-02T01:04:05.000600+00:00"]'
    assert canonical_json([in_plus_two]) == canonical_json([in_plus_two.astimezone(UTC)])


def test_canonical_json_refuses_naive_datetimes_even_nested() -> None:
    with pytest.raises(TypeError, match="time zone"):
        canonical_json({"a": [{"at": datetime(2025, 1, 2)}]})


@pytest.mark.parametrize("value", [object(), {1, 2}, complex(1, 2)])
def test_canonical_json_refuses_types_without_a_canonical_form(value: Any) -> None:
    with pytest.raises(TypeError):
        canonical_json({"v": value})


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_canonical_json_refuses_non_finite_floats(value: float) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"v": value})


# ------------------------------------------------------------------------- idempotency


PRINTABLE_ASCII = "".join(chr(c) for c in range(0x21, 0x7F))


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "0",
        "~" * MAX_KEY_LENGTH,
        PRINTABLE_ASCII,
        "0b9f6a1e-4a3c-4b7e-9b1d-2f0c8e7d6a5b",
        "order:123/retry#2",
    ],
)
def test_validate_key_accepts_printable_ascii(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "k" * (MAX_KEY_LENGTH + 1),
        " ",
        "a b",
        " leading",
        "trailing ",
        "tab\there",
        "line\n",
        "\nline",
        "nul\x00",
        "del\x7f",
        "bell\x07",
        "café",
        "ключ",
        "emoji🙂",
        "\u00a0nbsp",
    ],
)
def test_validate_key_refuses(key: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_key(key)
    assert caught.value.context == {"field": "idempotency_key"}


@pytest.mark.parametrize("key", [None, 123, b"abc"])
def test_validate_key_refuses_non_strings(key: Any) -> None:
    with pytest.raises(InvalidInput):
        validate_key(key)


@pytest.mark.parametrize("code", [*range(0x00, 0x21), 0x7F, 0x80, 0xFF])
def test_validate_key_refuses_every_control_and_space_character(code: int) -> None:
    with pytest.raises(InvalidInput):
        validate_key(f"a{chr(code)}b")


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1))
def test_any_printable_ascii_key_up_to_the_maximum_is_accepted(key: str) -> None:
    if len(key) <= MAX_KEY_LENGTH:
        assert validate_key(key) == key
    else:
        with pytest.raises(InvalidInput):
            validate_key(key)


def test_fingerprint_is_sha256_of_the_canonical_operation_and_parameters() -> None:
    params = {"b": "2", "a": [1, None, True]}
    text = json.dumps(
        {"operation": "deposit", "parameters": params},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert fingerprint("deposit", params) == hashlib.sha256(text.encode()).digest()
    assert len(fingerprint("deposit", params)) == 32


def transfer(**changes: Any) -> Transfer:
    fields: dict[str, Any] = {
        "from_account_id": ACCOUNT_A,
        "to_account_id": ACCOUNT_B,
        "amount": Money.parse("10.50", "USD"),
        "idempotency_key": "key-1",
        "channel": Channel.API,
        "reference": "rent",
        "metadata": {"invoice": "A-1"},
        "value_date": date(2025, 3, 1),
    }
    fields.update(changes)
    return Transfer(**fields)


def test_fingerprint_is_stable_for_equal_parameters() -> None:
    first = fingerprint("transfer", parameters(transfer()))
    assert first == fingerprint("transfer", parameters(transfer()))
    assert first == fingerprint("transfer", dict(reversed(parameters(transfer()).items())))
    assert first == fingerprint("transfer", parameters(transfer(amount=Money.parse("10.5", "USD"))))
    assert first == fingerprint("transfer", parameters(transfer(amount=Money.of(1050, "USD"))))


def test_fingerprint_ignores_the_idempotency_key() -> None:
    assert fingerprint("transfer", parameters(transfer(idempotency_key="a"))) == fingerprint(
        "transfer", parameters(transfer(idempotency_key="b"))
    )


@pytest.mark.parametrize(
    "change",
    [
        {"from_account_id": ACCOUNT_B, "to_account_id": ACCOUNT_A},
        {"to_account_id": UUID(int=1)},
        {"amount": Money.parse("10.51", "USD")},
        {"amount": Money.parse("10.50", "EUR")},
        {"channel": Channel.MOBILE},
        {"reference": "rent2"},
        {"reference": None},
        {"metadata": {"invoice": "A-2"}},
        {"metadata": {}},
        {"value_date": date(2025, 3, 2)},
        {"value_date": None},
    ],
    ids=str,
)
def test_fingerprint_differs_for_any_changed_parameter(change: dict[str, Any]) -> None:
    base = fingerprint("transfer", parameters(transfer()))
    assert fingerprint("transfer", parameters(transfer(**change))) != base


def test_fingerprint_differs_for_another_operation() -> None:
    params = parameters(transfer())
    assert fingerprint("transfer", params) != fingerprint("withdraw", params)


# ---------------------------------------------------------------------------- metadata


def test_metadata_accepts_strings_ints_bools_null_and_nesting() -> None:
    value = {"s": "x", "i": -(10**20), "t": True, "f": False, "n": None, "o": {"l": [1, "a"]}}
    assert validate_metadata(value) == value


def test_metadata_returns_a_plain_copy_with_lists() -> None:
    inner = {"a": 1}
    source = MappingProxyType({"o": inner, "t": (1, 2)})
    checked = validate_metadata(source)
    assert type(checked) is dict
    assert checked == {"o": {"a": 1}, "t": [1, 2]}
    inner["a"] = 2
    assert checked["o"] == {"a": 1}


def test_empty_metadata_is_valid() -> None:
    assert validate_metadata({}) == {}


@pytest.mark.parametrize("value", [[], "text", None, [("a", 1)]])
def test_metadata_must_be_an_object(value: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_metadata(value)
    assert caught.value.context == {"field": "metadata"}


@pytest.mark.parametrize(
    "value",
    [1.5, 0.0, float("nan"), Decimal("1.5"), b"x", {1, 2}, WHEN, date(2025, 1, 1), object()],
    ids=lambda value: type(value).__name__,
)
def test_metadata_refuses_other_value_types(value: Any) -> None:
    with pytest.raises(InvalidInput):
        validate_metadata({"v": value})


@pytest.mark.parametrize(
    "value", [{"a": {"b": 1.0}}, {"a": [1, 2.5]}, {"a": [{"b": [0.1]}]}], ids=str
)
def test_metadata_refuses_floats_at_any_depth(value: Any) -> None:
    with pytest.raises(InvalidInput):
        validate_metadata(value)


def test_metadata_string_length_limit() -> None:
    validate_metadata({"s": "x" * MAX_STRING_LENGTH})
    with pytest.raises(InvalidInput):
        validate_metadata({"s": "x" * (MAX_STRING_LENGTH + 1)})
    with pytest.raises(InvalidInput):
        validate_metadata({"l": ["x" * (MAX_STRING_LENGTH + 1)]})


def test_metadata_key_length_limits() -> None:
    validate_metadata({"k" * MAX_METADATA_KEY_LENGTH: 1})
    with pytest.raises(InvalidInput):
        validate_metadata({"k" * (MAX_METADATA_KEY_LENGTH + 1): 1})
    with pytest.raises(InvalidInput):
        validate_metadata({"": 1})
    with pytest.raises(InvalidInput):
        validate_metadata({"o": {"": 1}})


@pytest.mark.parametrize("key", [1, None, ("a",), True])
def test_metadata_keys_must_be_strings(key: Any) -> None:
    with pytest.raises(InvalidInput):
        validate_metadata({key: 1})


def test_metadata_object_key_count_limit() -> None:
    validate_metadata({f"k{i}": i for i in range(MAX_KEYS)})
    with pytest.raises(InvalidInput):
        validate_metadata({f"k{i}": i for i in range(MAX_KEYS + 1)})
    with pytest.raises(InvalidInput):
        validate_metadata({"o": {f"k{i}": i for i in range(MAX_KEYS + 1)}})


def test_metadata_list_length_limit() -> None:
    validate_metadata({"l": list(range(MAX_KEYS))})
    with pytest.raises(InvalidInput):
        validate_metadata({"l": list(range(MAX_KEYS + 1))})
    with pytest.raises(InvalidInput):
        validate_metadata({"l": tuple(range(MAX_KEYS + 1))})


def test_metadata_nests_at_most_max_depth_levels() -> None:
    assert MAX_DEPTH == 3
    validate_metadata({"a": {"b": {"c": 1}}})
    validate_metadata({"a": [[1, "x"]]})
    validate_metadata({"a": {"b": [1]}})
    with pytest.raises(InvalidInput, match="nests"):
        validate_metadata({"a": {"b": {"c": {"d": 1}}}})
    with pytest.raises(InvalidInput, match="nests"):
        validate_metadata({"a": [[[1]]]})
    with pytest.raises(InvalidInput, match="nests"):
        validate_metadata({"a": {"b": {"c": {}}}})


def test_metadata_size_limit_in_bytes() -> None:
    assert MAX_ENCODED_BYTES == 4096
    validate_metadata({f"k{i}": "x" * 450 for i in range(8)})  # about 3.7 kB
    with pytest.raises(InvalidInput, match="bytes"):
        validate_metadata({f"k{i}": "x" * 450 for i in range(10)})  # about 4.6 kB


def test_metadata_size_counts_utf8_bytes_not_characters() -> None:
    validate_metadata({f"k{i}": "x" * 500 for i in range(3)})
    with pytest.raises(InvalidInput, match="bytes"):
        validate_metadata({f"k{i}": "€" * 500 for i in range(3)})  # 4.5 kB in UTF-8


# --------------------------------------------------------------------------------- ids


def test_uuid7_has_version_7_and_the_rfc_variant() -> None:
    for _ in range(1_000):
        made = uuid7()
        assert made.version == 7
        assert made.variant == uuid.RFC_4122


def test_uuid7_carries_the_unix_millisecond_time() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= made.int >> 80 <= after


def test_uuid7_orders_by_time_across_milliseconds() -> None:
    earlier = [uuid7() for _ in range(20)]
    time.sleep(0.003)
    later = [uuid7() for _ in range(20)]
    assert max(earlier) < min(later)
    assert max(u.bytes for u in earlier) < min(u.bytes for u in later)
    assert max(str(u) for u in earlier) < min(str(u) for u in later)


def test_uuid7_is_unique_over_ten_thousand() -> None:
    assert len({uuid7() for _ in range(10_000)}) == 10_000


# ------------------------------------------------------------------ command parameters


def test_parameters_turn_money_into_strings_and_drop_the_key() -> None:
    command = Deposit(
        ACCOUNT_A, Money.parse("10.5", "USD"), "key-1", metadata={"note": "cash"}, reference="x"
    )
    assert parameters(command) == {
        "account_id": ACCOUNT_A,
        "amount": {"amount": "10.50", "currency": "USD"},
        "channel": Channel.BRANCH,
        "reference": "x",
        "metadata": {"note": "cash"},
        "value_date": None,
    }


@pytest.mark.parametrize(
    ("text", "code", "expected"),
    [("1250", "JPY", "1250"), ("1.25", "BHD", "1.250"), ("0.01", "USD", "0.01")],
)
def test_parameters_render_money_with_the_currency_decimals(
    text: str, code: str, expected: str
) -> None:
    command = Deposit(ACCOUNT_A, Money.parse(text, code), "k")
    assert parameters(command)["amount"] == {"amount": expected, "currency": code}


def test_parameters_flatten_nested_dataclasses() -> None:
    command = ReceiveExternalTransfer(
        account_id=ACCOUNT_A,
        amount=Money.parse("99", "EUR"),
        counterparty=Counterparty(name="ACME GmbH", account="DE89370400440532013000"),
        idempotency_key="wire-1",
    )
    plain = parameters(command)
    assert plain["counterparty"] == {
        "name": "ACME GmbH",
        "account": "DE89370400440532013000",
        "bank_code": None,
    }
    assert plain["amount"] == {"amount": "99.00", "currency": "EUR"}
    assert "idempotency_key" not in plain
    assert plain["channel"] is Channel.WIRE


def test_parameters_of_optional_money_fields() -> None:
    command = OpenAccount(
        customer_id=ACCOUNT_A,
        product=ProductType.SAVINGS,
        currency="USD",
        name="Rainy day",
        overdraft_limit=Money.parse("100", "USD"),
        idempotency_key="open-1",
    )
    assert parameters(command) == {
        "customer_id": ACCOUNT_A,
        "product": ProductType.SAVINGS,
        "currency": "USD",
        "name": "Rainy day",
        "overdraft_limit": {"amount": "100.00", "currency": "USD"},
        "min_balance": None,
        "daily_limit": None,
        "product_id": None,
        "opening_deposit": None,
        "funding_account_id": None,
    }


def test_parameters_of_a_command_without_money() -> None:
    entry = UUID(int=42)
    assert parameters(Reverse(entry, "duplicate", "rev-1")) == {
        "entry_id": entry,
        "reason": "duplicate",
    }
    assert parameters(CaptureHold(entry, "cap-1")) == {
        "hold_id": entry,
        "amount": None,
        "destination_account_id": None,
        "reference": None,
    }


def test_parameters_copy_metadata_mappings_to_dicts() -> None:
    command = Deposit(ACCOUNT_A, Money.of(1, "USD"), "k", metadata=MappingProxyType({"a": 1}))
    metadata = parameters(command)["metadata"]
    assert type(metadata) is dict
    assert metadata == {"a": 1}


@dataclasses.dataclass(frozen=True)
class _Tier:
    from_minor: int
    rate: Decimal


@dataclasses.dataclass(frozen=True)
class _Tiered:
    tiers: tuple[_Tier, ...]
    amounts: list[Money]
    idempotency_key: str


def test_parameters_flatten_what_sequences_hold() -> None:
    """A tuple or list of dataclasses (a product's rate tiers) becomes a list of their
    fields, so the fingerprint has a canonical form."""
    command = _Tiered(
        (_Tier(0, Decimal("0.01")), _Tier(100, Decimal("0.02"))), [Money.of(5, "USD")], "k"
    )
    plain = parameters(command)
    assert plain == {
        "tiers": [
            {"from_minor": 0, "rate": Decimal("0.01")},
            {"from_minor": 100, "rate": Decimal("0.02")},
        ],
        "amounts": [{"amount": "0.05", "currency": "USD"}],
    }
    assert json.loads(canonical_json(plain))["tiers"][1] == {"from_minor": 100, "rate": "0.02"}


def test_parameters_are_canonicalisable() -> None:
    text = canonical_json(parameters(transfer()))
    assert json.loads(text) == {
        "from_account_id": str(ACCOUNT_A),
        "to_account_id": str(ACCOUNT_B),
        "amount": {"amount": "10.50", "currency": "USD"},
        "channel": "api",
        "reference": "rent",
        "metadata": {"invoice": "A-1"},
        "value_date": "2025-03-01",
    }
