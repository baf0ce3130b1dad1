"""The guide's "Transaction processed successfully" line (Structured Logging): written with
its fields when INFO is on, and not even built when it is off."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

POST_ONE_TRANSFER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, date, datetime
    from uuid import UUID, uuid4
    from core_banking.config import load_config
    from core_banking.domain.accounts import Side
    from core_banking.domain.ledger import Channel, EntryType, JournalEntry, JournalLine
    from core_banking.observability.logging import configure_logging
    from core_banking.observability.metrics import PrometheusTelemetry

    configure_logging(load_config({"NEXUM_LOG_FORMAT": "json", "NEXUM_LOG_LEVEL": sys.argv[1]}))
    bank_side = UUID("5a1d3c0e-0000-5000-8000-000000000001")  # the bank's own: UUIDv5
    customer = UUID("0192a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")  # a customer's: UUIDv7
    lines = [(bank_side, Side.DEBIT), (customer, Side.CREDIT)]
    entry = JournalEntry(
        id=UUID("0192a1b2-c3d4-7e5f-8a9b-000000000456"), entry_type=EntryType.DEPOSIT,
        business_date=date(2026, 11, 28), value_date=date(2026, 11, 28),
        posted_at=datetime(2026, 11, 28, 12, tzinfo=UTC), actor="user:1", channel=Channel.BRANCH,
        reference=None, metadata={}, request_id=None, reversal_of=None,
        lines=tuple(
            JournalLine(number, account, side, 150000, "USD", 1, 150000)
            for number, (account, side) in enumerate(lines, start=1)
        ),
    )
    if "--fields-must-not-be-built" in sys.argv:
        import core_banking.observability.metrics as metrics

        class Unbuildable:
            @staticmethod
            def of(*_):
                raise AssertionError("the line's fields were built")

        metrics.Money = Unbuildable
    PrometheusTelemetry().posted(entry, 45.2)
    """
)


def _posting_lines(level: str, *flags: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-c", POST_ONE_TRANSFER, level, *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "core_banking.transactions"]


def test_a_posting_is_logged_with_the_guides_fields_at_info() -> None:
    (line,) = _posting_lines("INFO")
    assert line["message"] == "Transaction processed successfully"
    assert line["level"] == "INFO"
    assert line["transaction_id"] == "0192a1b2-c3d4-7e5f-8a9b-000000000456"
    assert line["account_id"] == "0192a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"  # the customer's side
    assert (line["amount"], line["currency"]) == ("1500.00", "USD")
    assert line["processing_time_ms"] == pytest.approx(45.2)


def test_above_info_the_line_is_neither_built_nor_written() -> None:
    assert _posting_lines("WARNING", "--fields-must-not-be-built") == []
    with pytest.raises(AssertionError, match="fields were built"):
        _posting_lines("INFO", "--fields-must-not-be-built")
