"""Personal data encrypted per field, with key ids, and blind indexes for lookups.

A stored value is either plaintext (written while encryption was off) or
``enc:<provider>:<key id>:<ciphertext>``, so rows written under any known key stay readable
and the key that wrote each value is on the value itself. Keys are derived from the master
key (NEXUM_ENCRYPTION_MASTER_KEY) with HKDF-SHA256, one for encryption and one for the blind
index; the key id is the first 8 bytes of SHA-256 of the master key, in hex.

Providers: ``fernet`` (AES-128-CBC + HMAC-SHA256, the cryptography library's Fernet) and
``aesgcm`` (AES-256-GCM with a random 96-bit nonce). Either authenticates what it decrypts.

A blind index is HMAC-SHA256 of the normalised value under the index key: equal values give
equal indexes, so an email or phone number can be found without decrypting every row, and
the index reveals nothing else. Lookups try the current key and every previous one, so a
search keeps working while `nexum keys rotate` re-encrypts and re-indexes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

_PREFIX = "enc"
_PLAINTEXT_INDEX_KEY = hashlib.sha256(b"nexum blind index, encryption off").digest()


class KeyUnavailable(LookupError):
    """A value was written under a key this process does not have."""


class _Sealer(Protocol):
    def seal(self, plaintext: bytes) -> bytes: ...

    def open(self, ciphertext: bytes) -> bytes: ...


def _derive(master: bytes, purpose: bytes, length: int = 32) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose).derive(master)


class _FernetSealer:
    def __init__(self, key: bytes) -> None:
        from cryptography.fernet import Fernet

        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def open(self, ciphertext: bytes) -> bytes:
        return self._fernet.decrypt(ciphertext)


class _AesGcmSealer:
    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        return base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, plaintext, None))

    def open(self, ciphertext: bytes) -> bytes:
        raw = base64.urlsafe_b64decode(ciphertext)
        return self._aead.decrypt(raw[:12], raw[12:], None)


PROVIDERS = ("fernet", "aesgcm")


@dataclass(frozen=True, slots=True)
class _Key:
    key_id: str
    index_key: bytes
    sealers: dict[str, _Sealer]


def key_id_of(master: bytes) -> str:
    return hashlib.sha256(master).digest()[:8].hex()


def _key(master: bytes) -> _Key:
    """Each purpose and each algorithm gets its own key, derived from the master key."""
    return _Key(
        key_id=key_id_of(master),
        index_key=_derive(master, b"nexum blind index"),
        sealers={
            "fernet": _FernetSealer(_derive(master, b"nexum field encryption: fernet")),
            "aesgcm": _AesGcmSealer(_derive(master, b"nexum field encryption: aes-256-gcm")),
        },
    )


class FieldCipher:
    """Encrypts and decrypts personal data fields; computes their blind indexes."""

    def __init__(
        self,
        master_key: bytes | None,
        provider: str = "fernet",
        previous_keys: Sequence[bytes] = (),
    ) -> None:
        if provider not in PROVIDERS:
            raise ValueError(f"unknown encryption provider {provider!r}")
        self.provider = provider
        self._current = _key(master_key) if master_key is not None else None
        self._keys = {key.key_id: key for key in map(_key, previous_keys)}
        if self._current is not None:
            self._keys[self._current.key_id] = self._current

    @property
    def enabled(self) -> bool:
        return self._current is not None

    @property
    def key_id(self) -> str | None:
        return self._current.key_id if self._current else None

    def encrypt(self, plaintext: str) -> str:
        if self._current is None:
            return plaintext
        sealed = self._current.sealers[self.provider].seal(plaintext.encode("utf-8"))
        return f"{_PREFIX}:{self.provider}:{self._current.key_id}:{sealed.decode('ascii')}"

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(f"{_PREFIX}:"):
            return stored
        _, provider, key_id, sealed = stored.split(":", 3)
        key = self._keys.get(key_id)
        if key is None or provider not in key.sealers:
            raise KeyUnavailable(f"no key {key_id} ({provider}) to decrypt this value")
        return key.sealers[provider].open(sealed.encode("ascii")).decode("utf-8")

    def is_current(self, stored: str) -> bool:
        """True when ``stored`` is already in the form this cipher writes."""
        if self._current is None:
            return not stored.startswith(f"{_PREFIX}:")
        return stored.startswith(f"{_PREFIX}:{self.provider}:{self._current.key_id}:")

    def blind_index(self, normalised: str) -> str:
        """The index of a normalised value under the current key."""
        return self._index(
            self._current.index_key if self._current else _PLAINTEXT_INDEX_KEY, normalised
        )

    def blind_indexes(self, normalised: str) -> list[str]:
        """The value's index under every key this cipher knows, current first: what a lookup
        must match while a rotation is under way."""
        keys = [self._current.index_key] if self._current else []
        keys += [key.index_key for key in self._keys.values() if key is not self._current]
        keys.append(_PLAINTEXT_INDEX_KEY)  # rows indexed before encryption was switched on
        return list(dict.fromkeys(self._index(key, normalised) for key in keys))

    @staticmethod
    def _index(key: bytes, normalised: str) -> str:
        return hmac.new(key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


class PlaintextFields(FieldCipher):
    """Encryption switched off: values are stored as given, indexes still work."""

    def __init__(self) -> None:
        super().__init__(master_key=None)
