"""Encryption of stored values with AES-256-GCM, and the keyring that holds the data keys.

A sealed value is ``base64(nonce || ciphertext || tag)`` with a fresh random 96-bit nonce
per value. The additional authenticated data binds the value to where it lives (table,
column, row id) and to the key id, so a ciphertext copied into another row or column, or
edited by one bit, fails to open instead of yielding garbage. Each row records the id of
the key that sealed it: the first 16 hex digits of ``sha256(key)``, which names a key
without revealing it (safe for logs and error messages).

The :class:`Keyring` holds the current key (seals new values) and old keys (open values
written before a rotation). This module does no I/O, knows nothing about SQL and never
falls back to plaintext: a value that cannot be opened raises :class:`StoredDataError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from habla.core.errors import ConfigError, StoredDataError

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96 bits, the size GCM is designed for
_TAG_BYTES = 16
_AAD_VERSION = "habla-v1"


def new_key() -> str:
    """A fresh random data key, base64-encoded as the settings expect it."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def key_id_of(key: bytes) -> str:
    """The public name of a key: 16 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:16]


def parse_key(encoded: str, *, setting: str) -> bytes:
    """Decode one base64 key; a clear :class:`ConfigError` naming ``setting`` otherwise.

    The message never repeats the value: it is a secret even when malformed.
    """
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(
            f"{setting} is not valid base64; generate a key with `habla keys new-data-key`"
        ) from None
    if len(raw) != KEY_BYTES:
        raise ConfigError(
            f"{setting} must decode to {KEY_BYTES} bytes (AES-256), not {len(raw)};"
            " generate a key with `habla keys new-data-key`"
        )
    return raw


@dataclass(frozen=True, slots=True)
class Location:
    """Where a sealed value lives; part of what the tag authenticates."""

    table: str
    column: str
    row_id: str

    def aad(self, key_id: str) -> bytes:
        return "|".join((_AAD_VERSION, self.table, self.column, self.row_id, key_id)).encode()


@dataclass(frozen=True)
class Keyring:
    """The current data key and the old ones still accepted for reading."""

    current: bytes
    old: tuple[bytes, ...] = ()
    _ciphers: dict[str, AESGCM] = field(init=False, repr=False, compare=False)
    _current_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ciphers: dict[str, AESGCM] = {}
        for key in (self.current, *self.old):
            if len(key) != KEY_BYTES:
                raise ConfigError(f"a data key must be {KEY_BYTES} bytes, not {len(key)}")
            ciphers.setdefault(key_id_of(key), AESGCM(key))
        object.__setattr__(self, "_ciphers", ciphers)
        object.__setattr__(self, "_current_id", key_id_of(self.current))

    @classmethod
    def from_settings(cls, current: str, old: Iterable[str] = ()) -> Keyring:
        """Build from base64 strings (``HABLA_ENCRYPTION_KEY``, ``…_OLD_KEYS``)."""
        return cls(
            parse_key(current, setting="HABLA_ENCRYPTION_KEY"),
            tuple(
                parse_key(value, setting=f"HABLA_ENCRYPTION_OLD_KEYS (item {index + 1})")
                for index, value in enumerate(old)
            ),
        )

    def __repr__(self) -> str:  # never the key bytes
        return f"Keyring(current={self.current_id}, ids={sorted(self.key_ids)})"

    @property
    def current_id(self) -> str:
        return self._current_id

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._ciphers)

    def seal(self, plaintext: str, where: Location) -> tuple[str, str]:
        """Encrypt under the current key; returns ``(sealed value, key id)``."""
        key_id = self.current_id
        nonce = os.urandom(NONCE_BYTES)
        body = self._ciphers[key_id].encrypt(nonce, plaintext.encode("utf-8"), where.aad(key_id))
        return base64.b64encode(nonce + body).decode("ascii"), key_id

    def open(self, sealed: str, key_id: str, where: Location) -> str:
        """Decrypt and authenticate; :class:`StoredDataError` on any mismatch."""
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise StoredDataError(
                f"{where.table}.{where.column} of row {where.row_id} is encrypted under key"
                f" {key_id}, which is not configured (HABLA_ENCRYPTION_KEY /"
                " HABLA_ENCRYPTION_OLD_KEYS)"
            )
        try:
            raw = base64.b64decode(sealed, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) < NONCE_BYTES + _TAG_BYTES:
            raise StoredDataError(_tampered(where, key_id))
        try:
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], where.aad(key_id))
            return plain.decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise StoredDataError(_tampered(where, key_id)) from None


def _tampered(where: Location, key_id: str) -> str:
    return (
        f"{where.table}.{where.column} of row {where.row_id} failed authentication under key"
        f" {key_id}: the stored value was altered, moved from another row, or the key with"
        " this id is not the one that wrote it"
    )
