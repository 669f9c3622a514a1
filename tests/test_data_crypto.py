"""The AES-256-GCM sealing and the keyring (habla.store.crypto), without a database:
round trips, per-value nonces, values bound to their row, tamper detection, key ids, and
clear errors for malformed keys that never echo the key."""

from __future__ import annotations

import base64

import pytest

from habla.core.errors import ConfigError, StoredDataError
from habla.store.crypto import KEY_BYTES, Keyring, Location, key_id_of, new_key, parse_key

HERE = Location("messages", "parts", "row-1")


def _ring(*olds: str) -> tuple[Keyring, str]:
    key = new_key()
    return Keyring.from_settings(key, olds), key


def test_round_trip_and_a_fresh_nonce_per_value() -> None:
    ring, _ = _ring()
    text = "the secret plan ñ 🙂"
    first, key_id = ring.seal(text, HERE)
    second, _ = ring.seal(text, HERE)
    assert first != second  # random nonce: equal plaintexts do not look equal on disk
    assert text not in first
    assert key_id == ring.current_id
    assert ring.open(first, key_id, HERE) == text
    assert ring.open(second, key_id, HERE) == text
    raw = base64.b64decode(first)
    assert len(raw) == 12 + len(text.encode()) + 16  # nonce + ciphertext + tag


def test_key_id_is_sha256_prefix_and_reveals_nothing() -> None:
    key = new_key()
    raw = base64.b64decode(key)
    assert len(raw) == KEY_BYTES
    ring = Keyring.from_settings(key)
    assert ring.current_id == key_id_of(raw)
    assert len(ring.current_id) == 16
    assert int(ring.current_id, 16) >= 0
    assert key not in repr(ring)
    assert ring.current_id in repr(ring)


@pytest.mark.parametrize(
    "elsewhere",
    [
        Location("messages", "parts", "row-2"),  # moved to another row
        Location("conversations", "title", "row-1"),  # moved to another column/table
    ],
)
def test_a_value_moved_elsewhere_fails(elsewhere: Location) -> None:
    ring, _ = _ring()
    sealed, key_id = ring.seal("hello", HERE)
    with pytest.raises(StoredDataError, match="failed authentication"):
        ring.open(sealed, key_id, elsewhere)


def test_tampered_truncated_or_garbage_values_fail() -> None:
    ring, _ = _ring()
    sealed, key_id = ring.seal("hello world", HERE)
    raw = bytearray(base64.b64decode(sealed))
    raw[15] ^= 0x01
    flipped = base64.b64encode(bytes(raw)).decode()
    for bad in (flipped, sealed[:20], "not base64 at all!", "", "hello world"):
        with pytest.raises(StoredDataError):
            ring.open(bad, key_id, HERE)


def test_unknown_key_id_and_a_key_claiming_another_id_fail() -> None:
    ring, _ = _ring()
    other, _ = _ring()
    sealed, key_id = other.seal("hello", HERE)
    with pytest.raises(StoredDataError, match="not configured"):
        ring.open(sealed, key_id, HERE)
    # The id is part of the authenticated data: relabelling a row does not help.
    with pytest.raises(StoredDataError, match="failed authentication"):
        other.open(ring.seal("hello", HERE)[0], key_id, HERE)


def test_old_keys_open_but_only_the_current_key_seals() -> None:
    old_ring, old_key = _ring()
    sealed, old_id = old_ring.seal("from before", HERE)
    ring, _ = _ring(old_key)
    assert ring.open(sealed, old_id, HERE) == "from before"
    assert ring.key_ids == {ring.current_id, old_id}
    assert ring.seal("new", HERE)[1] == ring.current_id != old_id


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "32 bytes"),
        ("c2hvcnQ=", "32 bytes"),  # "short"
        (base64.b64encode(b"x" * 33).decode(), "32 bytes"),
        ("***not-base64***", "not valid base64"),
    ],
)
def test_malformed_keys_are_a_config_error_that_does_not_echo_them(
    value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_key(value, setting="HABLA_ENCRYPTION_KEY")
    assert "HABLA_ENCRYPTION_KEY" in caught.value.message
    assert "new-data-key" in caught.value.message
    if value:
        assert value not in caught.value.message


def test_a_malformed_old_key_names_its_position() -> None:
    with pytest.raises(ConfigError, match=r"HABLA_ENCRYPTION_OLD_KEYS \(item 2\)"):
        Keyring.from_settings(new_key(), [new_key(), "bad"])
