"""Password hashing with argon2id (RFC 9106), through argon2-cffi's recommended parameters."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile by default


class Argon2Passwords:
    def hash(self, password: str) -> str:
        return _HASHER.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        try:
            return _HASHER.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return _HASHER.check_needs_rehash(stored_hash)
