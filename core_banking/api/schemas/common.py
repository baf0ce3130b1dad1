"""Shapes shared by every resource: money, pages, cursors."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from core_banking.api.problems import ProblemError
from core_banking.domain.money import Money

AMOUNT_PATTERN = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$"
SIGNED_AMOUNT_PATTERN = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"

Amount = Annotated[str, StringConstraints(pattern=AMOUNT_PATTERN, max_length=40)]
SignedAmount = Annotated[str, StringConstraints(pattern=SIGNED_AMOUNT_PATTERN, max_length=41)]
CurrencyCode = Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN)]
Reference = Annotated[str, StringConstraints(max_length=140)]


def _written_as_a_date_and_time(value: Any) -> Any:
    """Pydantic would read a bare number as seconds since 1970 (``to=0.5``); an API whose
    schema says date-time takes only an RFC 3339 date and time."""
    if isinstance(value, str) and not _DATE_TIME_START.match(value):
        raise ValueError("expected an RFC 3339 date and time, such as 2026-01-31T12:00:00Z")
    return value


_DATE_TIME_START = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]")

Timestamp = Annotated[AwareDatetime, BeforeValidator(_written_as_a_date_and_time)]
"""A moment with its UTC offset, as RFC 3339 writes it."""


def decimal_text(value: Decimal) -> str:
    """An exact decimal as plain text, never in exponent form ("0.0123", not "1.23E-2")."""
    return format(value, "f")


class RequestModel(BaseModel):
    """A request body: unknown fields are refused, never ignored."""

    model_config = ConfigDict(extra="forbid")


class MoneyIn(RequestModel):
    """An amount as a decimal string, never a number, with no more decimals than the
    currency has ("100.00" USD, "1500" JPY, "1.250" BHD)."""

    amount: Amount = Field(examples=["100.00"])
    currency: CurrencyCode = Field(examples=["USD"])

    def to_money(self, *, allow_zero: bool = False) -> Money:
        """Amounts to move are positive; a limit may be zero (``allow_zero``)."""
        return Money.parse(self.amount, self.currency, allow_zero=allow_zero)


class MoneyOut(BaseModel):
    amount: SignedAmount = Field(examples=["100.00"])
    currency: CurrencyCode = Field(examples=["USD"])

    @classmethod
    def of(cls, minor: int, currency: str) -> MoneyOut:
        return cls(amount=Money.of(minor, currency).amount_string(), currency=currency)

    @classmethod
    def from_money(cls, money: Money) -> MoneyOut:
        return cls(amount=money.amount_string(), currency=money.currency.code)


class Page[T](BaseModel):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def decode_cursor[T](cursor: str | None, parse: Callable[[Any], T]) -> T | None:
    """The position ``cursor`` names, rebuilt by ``parse`` from the JSON it carries.

    Cursors come back from clients, so anything that is not a cursor this API gave out,
    whether it fails to decode or decodes to the wrong shape, is a 400, never a 500."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return parse(json.loads(base64.urlsafe_b64decode(padded.encode())))
    except (binascii.Error, ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise ProblemError(400, "bad_cursor", "the cursor is not one this API gave out") from None
