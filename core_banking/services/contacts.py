"""Email addresses and phone numbers checked against the real-world standards.

Emails: RFC 5321/5322 syntax with internationalised addresses (RFC 6531) accepted, through
email-validator, without looking up DNS (a bank records what the customer gives and verifies
it by sending a message, not by a resolver it does not control). Domains are normalised
(IDNA, lower case); the local part is the owner's and is kept as written.

Phones: any country's numbers through Google's libphonenumber (the phonenumbers package),
written with their country code ("+44 20 7946 0958"), stored in E.164 ("+442079460958").
"""

from __future__ import annotations

import email_validator
import phonenumbers

from core_banking.domain.errors import InvalidInput

MAX_LOCAL_PART_OCTETS = 64


def clean_email(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("email is text", field="email")
    try:
        checked = email_validator.validate_email(value.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise InvalidInput(f"email: {exc}", field="email") from None
    if len(checked.local_part.encode("utf-8")) > MAX_LOCAL_PART_OCTETS:
        raise InvalidInput(
            f"email: at most {MAX_LOCAL_PART_OCTETS} bytes before the @ (RFC 5321)",
            field="email",
        )
    return str(checked.normalized)


def clean_phone(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 32:
        raise InvalidInput("phone is at most 32 characters", field="phone")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise InvalidInput(
            "phone is an international number with its country code, like +44 20 7946 0958",
            field="phone",
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("phone is not a valid number for its country", field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
