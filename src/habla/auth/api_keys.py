"""API keys: generate, hash and recognise ``hbl_<prefix>_<secret>``.

A key is ``hbl_`` + an 8-character prefix (lowercase letters and digits, shown in lists so
people can tell their keys apart) + ``_`` + a 43-character url-safe secret carrying 256
random bits. Only the sha256 hex of the whole key is stored; the key itself is shown once,
at creation. :func:`parse_key` accepts exactly that shape (a fixed length, then one
anchored pattern), so junk in an ``Authorization`` header is turned away before any
database work.

This module does not store keys, look them up or decide whose they are.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from typing import NamedTuple

KEY_PREFIX = "hbl_"
PREFIX_LENGTH = 8
SECRET_BYTES = 32  # 256 bits
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits  # no "_": it separates the parts
_SECRET_LENGTH = 43  # len(token_urlsafe(32)): base64url without padding
KEY_LENGTH = len(KEY_PREFIX) + PREFIX_LENGTH + 1 + _SECRET_LENGTH
_SHAPE = re.compile(
    rf"hbl_([a-z0-9]{{{PREFIX_LENGTH}}})_[A-Za-z0-9_-]{{{_SECRET_LENGTH}}}", re.ASCII
)


class NewKey(NamedTuple):
    key: str  # show once, never store or log
    prefix: str
    key_hash: str  # sha256 hex, what the store keeps


class ParsedKey(NamedTuple):
    prefix: str
    key_hash: str


def generate_key() -> NewKey:
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = secrets.token_urlsafe(SECRET_BYTES)
    key = f"{KEY_PREFIX}{prefix}_{secret}"
    return NewKey(key, prefix, hash_key(key))


def hash_key(key: str) -> str:
    """sha256 hex of the key. Enough for 256-bit random secrets: no salt or KDF needed."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_key(candidate: str) -> ParsedKey | None:
    """The prefix and hash of a well-formed key, or ``None`` for anything else."""
    if len(candidate) != KEY_LENGTH or not candidate.startswith(KEY_PREFIX):
        return None
    match = _SHAPE.fullmatch(candidate)
    if match is None:
        return None
    return ParsedKey(match.group(1), hash_key(candidate))


def looks_like_key(candidate: str) -> bool:
    """Whether the text is meant as a habla key (well-formed or not), e.g. for messages."""
    return candidate.startswith(KEY_PREFIX)


def same_secret(a: str, b: str) -> bool:
    """Constant-time equality for hashes, prefixes and other secret-derived strings."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
