"""Encryption at rest in the SQL store, on SQLite and PostgreSQL: what is on disk, round
trips, start-up refusals for a wrong or missing key, tampered and moved rows, plaintext
rows from before encryption, and key rotation."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

import storetest
from habla.core.errors import ConfigError, StoredDataError
from habla.core.messages import Image, Message, Text
from habla.store.crypto import Keyring, new_key
from habla.store.migrations import alembic_config
from habla.store.sql import SqlStore
from storetest import opened, sqlite_url

USER = "alice"
SECRET = "my card is 4111 1111 1111 1111"
TITLE = "Quarterly layoffs plan"


# The shared store fixtures (storetest.py), bound here so that pytest finds them.
fresh_pg_url = storetest.fresh_pg_url
url = storetest.url


async def raw_rows(store: SqlStore, sql: str, **params: Any) -> list[Any]:
    async with store.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def execute(store: SqlStore, sql: str, **params: Any) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(text(sql), params)


async def seed(store: SqlStore) -> tuple[str, list[str]]:
    conv = await store.create_conversation(user_id=USER, persona="p", model="m", title=TITLE)
    ids = []
    for message in (
        Message.of("user", SECRET),
        Message("user", (Text("see picture"), Image(b"\x89PNG-secret-pixels", "image/png"))),
        Message.of("assistant", "noted, I will keep the card safe"),
    ):
        ids.append((await store.append_message(conv.id, message, user_id=USER)).id)
    return conv.id, ids


async def test_content_and_titles_are_ciphertext_on_disk(url: str) -> None:
    ring = Keyring.from_settings(new_key())
    async with opened(url, ring) as store:
        conv_id, _ = await seed(store)
        titles = await raw_rows(store, "SELECT title, key_id FROM conversations")
        parts = await raw_rows(store, "SELECT parts, key_id FROM messages")
        # Through the store, everything reads back as written.
        assert (await store.get_conversation(conv_id, user_id=USER)).title == TITLE
        listed = await store.list_messages(conv_id, user_id=USER)
        assert listed[0].message.parts == (Text(SECRET),)
        assert listed[1].message.parts[1] == Image(b"\x89PNG-secret-pixels", "image/png")
    assert titles == [(titles[0][0], ring.current_id)]
    assert "layoffs" not in titles[0][0]
    assert {key_id for _, key_id in parts} == {ring.current_id}
    for value, _ in parts:
        for plain in ("4111", "card", "picture", '"type"', "UE5H"):  # UE5H: base64 of "PNG"
            assert plain not in value


async def test_sqlite_file_and_wal_hold_no_plaintext(tmp_path: Path) -> None:
    path = tmp_path / "habla.db"
    async with opened(sqlite_url(path), Keyring.from_settings(new_key())) as store:
        conv_id, ids = await seed(store)
        await store.update_message_text(
            ids[2], user_id=USER, text="edited reply", status="complete"
        )
        await store.rename_conversation(conv_id, user_id=USER, title="Renamed secret title")
        on_disk = disk_bytes(tmp_path)
    for plain in (b"4111", b"layoffs", b"edited reply", b"Renamed secret", b"see picture"):
        assert plain not in on_disk


async def test_update_and_rename_stay_encrypted_and_read_back(url: str) -> None:
    ring = Keyring.from_settings(new_key())
    async with opened(url, ring) as store:
        conv_id, ids = await seed(store)
        await store.update_message_text(ids[1], user_id=USER, text="new words", status="complete")
        renamed = await store.rename_conversation(conv_id, user_id=USER, title="New title")
        assert renamed.title == "New title"
        [listed] = await store.list_conversations(user_id=USER)
        assert listed.title == "New title"
        message = (await store.list_messages(conv_id, user_id=USER))[1].message
        assert message.parts == (Text("new words"), Image(b"\x89PNG-secret-pixels", "image/png"))
        key_ids = await raw_rows(store, "SELECT DISTINCT key_id FROM messages")
    assert key_ids == [(ring.current_id,)]


async def test_wrong_key_at_start_is_a_clear_error(url: str) -> None:
    ring = Keyring.from_settings(new_key())
    async with opened(url, ring) as store:
        await seed(store)
    wrong = Keyring.from_settings(new_key())
    with pytest.raises(ConfigError) as caught:
        async with opened(url, wrong):
            pass
    message = caught.value.message
    assert ring.current_id in message and "HABLA_ENCRYPTION_KEY is wrong" in message


async def test_missing_key_with_encrypted_rows_is_a_clear_error(url: str) -> None:
    ring = Keyring.from_settings(new_key())
    async with opened(url, ring) as store:
        await seed(store)
    with pytest.raises(ConfigError, match="HABLA_ENCRYPTION_KEY is not set") as caught:
        async with opened(url, None):
            pass
    assert ring.current_id in caught.value.message


async def test_tampered_ciphertext_is_an_error_not_garbage(url: str) -> None:
    old_key = new_key()
    async with opened(url, Keyring.from_settings(old_key)) as store:
        conv_id, ids = await seed(store)
        [(value,)] = await raw_rows(store, "SELECT parts FROM messages WHERE id = :i", i=ids[0])
        flipped = value[:30] + ("A" if value[30] != "A" else "B") + value[31:]
        await execute(store, "UPDATE messages SET parts = :v WHERE id = :i", v=flipped, i=ids[0])
        with pytest.raises(StoredDataError, match="failed authentication"):
            await store.list_messages(conv_id, user_id=USER)
        with pytest.raises(StoredDataError):
            await store.update_message_text(ids[0], user_id=USER, text="x", status="complete")
    # A rotation stops at the damaged row rather than re-sealing garbage; its batch is
    # rolled back whole.
    async with opened(url, Keyring.from_settings(new_key(), [old_key])) as store:
        with pytest.raises(StoredDataError, match=ids[0]):
            await store.rotate_data_key(batch_size=10)
        [(after,)] = await raw_rows(store, "SELECT parts FROM messages WHERE id = :i", i=ids[0])
        assert after == flipped
        assert await store.count_unrotated() == 3  # the title's batch went through


async def test_ciphertext_moved_to_another_row_is_an_error(url: str) -> None:
    async with opened(url, Keyring.from_settings(new_key())) as store:
        conv_id, ids = await seed(store)
        other = await store.create_conversation(user_id=USER, persona="p", model="m", title="x")
        # Copy message 0's sealed parts over message 2, and one title over another.
        await execute(
            store,
            "UPDATE messages SET parts = (SELECT parts FROM messages WHERE id = :src)"
            " WHERE id = :dst",
            src=ids[0],
            dst=ids[2],
        )
        await execute(
            store,
            "UPDATE conversations SET title = (SELECT title FROM conversations WHERE id = :src)"
            " WHERE id = :dst",
            src=conv_id,
            dst=other.id,
        )
        with pytest.raises(StoredDataError, match=ids[2]):
            await store.list_messages(conv_id, user_id=USER)
        with pytest.raises(StoredDataError):
            await store.get_conversation(other.id, user_id=USER)


async def test_plaintext_rows_stay_readable_and_rotation_encrypts_them(url: str) -> None:
    async with opened(url, None) as store:
        conv_id, _ = await seed(store)
    first = Keyring.from_settings(new_key())
    async with opened(url, first) as store:
        # Old plaintext and new sealed rows side by side.
        await store.append_message(conv_id, Message.of("user", "sealed one"), user_id=USER)
        assert await store.count_unrotated() == 4  # the title and three messages
        texts = [m.message.text for m in await store.list_messages(conv_id, user_id=USER)]
        assert texts[0] == SECRET and texts[-1] == "sealed one"
        seen: list[tuple[int, int]] = []
        report = await store.rotate_data_key(
            batch_size=2, progress=lambda d, t: seen.append((d, t))
        )
        assert report.rows == 4 and report.from_key_ids == ("plaintext",)
        assert seen == [(0, 4), (1, 4), (3, 4), (4, 4)]  # 1 title; messages in pages of 2
        assert await store.count_unrotated() == 0
        rows = await raw_rows(store, "SELECT parts FROM messages")
        assert all(SECRET not in parts for (parts,) in rows)
    async with opened(url, first) as store:
        texts = [m.message.text for m in await store.list_messages(conv_id, user_id=USER)]
        assert texts[0] == SECRET


async def test_rotation_moves_every_row_to_the_new_key(url: str) -> None:
    old_key = new_key()
    old = Keyring.from_settings(old_key)
    async with opened(url, old) as store:
        conv_id, _ = await seed(store)
    both = Keyring.from_settings(new_key(), [old_key])
    async with opened(url, both) as store:
        await store.append_message(conv_id, Message.of("user", "after the switch"), user_id=USER)
        assert await store.count_unrotated() == 4
        report = await store.rotate_data_key(batch_size=500)
        assert report.rows == 4
        assert report.from_key_ids == (old.current_id,)
        assert report.to_key_id == both.current_id
        again = await store.rotate_data_key(batch_size=500)  # idempotent
        assert again.rows == 0
        for table in ("messages", "conversations"):
            ids = await raw_rows(store, f"SELECT DISTINCT key_id FROM {table}")  # noqa: S608
            assert ids == [(both.current_id,)]
    # The old key is no longer needed, and no longer enough.
    only_new = Keyring(both.current)
    async with opened(url, only_new) as store:
        texts = [m.message.text for m in await store.list_messages(conv_id, user_id=USER)]
        assert texts == [
            SECRET,
            "see picture",
            "noted, I will keep the card safe",
            "after the switch",
        ]
    with pytest.raises(ConfigError, match=both.current_id):
        async with opened(url, old):
            pass


async def test_rotation_without_a_key_or_with_a_bad_batch_changes_nothing(url: str) -> None:
    async with opened(url, None) as store:
        await seed(store)
        with pytest.raises(ConfigError, match="HABLA_ENCRYPTION_KEY"):
            await store.rotate_data_key(batch_size=10)
        before = await raw_rows(store, "SELECT id, parts, key_id FROM messages ORDER BY id")
    async with opened(url, Keyring.from_settings(new_key())) as store:
        with pytest.raises(ValueError, match="batch_size"):
            await store.rotate_data_key(batch_size=0)
        after = await raw_rows(store, "SELECT id, parts, key_id FROM messages ORDER BY id")
    assert after == before


async def test_downgrade_is_refused_while_rows_are_encrypted(url: str) -> None:
    async with opened(url, Keyring.from_settings(new_key())) as store:
        await seed(store)
        with pytest.raises(RuntimeError, match="encrypted"):
            async with store.engine.begin() as conn:
                await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0002"))
        assert len(await raw_rows(store, "SELECT key_id FROM messages")) == 3


async def test_sqlite_secure_delete_is_on(tmp_path: Path) -> None:
    async with opened(sqlite_url(tmp_path / "h.db"), None) as store:
        assert (await raw_rows(store, "PRAGMA secure_delete"))[0][0] == 1
    with contextlib.closing(sqlite3.connect(tmp_path / "h.db")) as raw:
        assert raw.execute("SELECT count(*) FROM messages").fetchone() == (0,)


def disk_bytes(folder: Path) -> bytes:
    """Every file of the database (main file, WAL, shared memory) as raw bytes."""
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())
