"""The password policy and the lockout rule (NIST SP 800-63B: length and a blocklist, not
composition rules).

A password is at least NEXUM_PASSWORD_MIN_LENGTH characters, at most 256, not one of the
passwords every attacker tries first, not a run of one character, and does not contain the
username. After MAX_FAILED_LOGINS failures in a row the account is locked for LOCKOUT; the
lock lifts by itself.
"""

from __future__ import annotations

from datetime import timedelta

from core_banking.domain.errors import InvalidInput

MAX_PASSWORD_LENGTH = 256
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)

_COMMON = frozenset(
    """
    password password1 password123 passw0rd p@ssw0rd p@ssword 12345678 123456789 1234567890
    123123123 11111111 00000000 87654321 qwerty123 qwertyuiop qwerty12 1q2w3e4r 1qaz2wsx
    zaq12wsx abc12345 abcd1234 iloveyou sunshine princess football baseball welcome
    welcome1 letmein1 trustno1 dragon123 monkey123 master12 superman batman123 starwars
    whatever freedom1 shadow12 michael1 jennifer hunter22 administrator admin123 adminadmin
    changeme changeme1 default1 secret123 nexum123 nexumbank bankbank banking1 qwerty1234
    asdfghjkl asdf1234 zxcvbnm1 computer internet samsung1 google12 liverpool chelsea1
    arsenal1 pokemon1 charlie1 donald12 jordan23 summer2024 winter2024 summer2025
    winter2025 summer2026 winter2026 spring2026 autumn2026 january1 december1
    """.split()  # noqa: SIM905 - a word list reads best as words
)


class WeakPassword(InvalidInput):
    code = "weak_password"


def check_password(password: str, *, min_length: int, username: str) -> None:
    """Refuse a password the policy does not allow, saying which rule it breaks."""
    if not isinstance(password, str) or not min_length <= len(password) <= MAX_PASSWORD_LENGTH:
        raise WeakPassword(
            f"a password is {min_length} to {MAX_PASSWORD_LENGTH} characters",
            field="password",
        )
    lowered = password.lower()
    if lowered in _COMMON:
        raise WeakPassword("this password is among the most common ones", field="password")
    if len(set(password)) < 3:
        raise WeakPassword("a password needs more than two different characters", field="password")
    if username and len(username) >= 3 and username.lower() in lowered:
        raise WeakPassword("a password must not contain the username", field="password")
