"""What the SQL store promises beyond the shared contract: SQLite settings, persistence,
migrations that match ``schema.py`` (SQLite and PostgreSQL), safe repeated and concurrent
start-up, clear configuration errors, and the message-parts codec.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, column, inspect, select, table, text, update

import storetest
from habla.core.errors import ConfigError
from habla.core.messages import Image, Message, Text
from habla.store.codec import CodecError, decode_parts, encode_parts
from habla.store.migrations import SCRIPT_LOCATION, alembic_config
from habla.store.schema import VERSION_TABLE, metadata
from habla.store.sql import SqlStore
from storetest import opened, sqlite_url

USER = "alice"
_VERSIONS = table(VERSION_TABLE, column("version_num"))
_HEAD = ScriptDirectory(str(SCRIPT_LOCATION)).get_current_head()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "habla.db"


@pytest.fixture
async def sqlite_store(db_path: Path) -> AsyncIterator[SqlStore]:
    store = SqlStore(sqlite_url(db_path))
    try:
        await store.start()
        yield store
    finally:
        await store.close()


# The shared store fixtures (storetest.py), bound here so that pytest finds them.
fresh_pg_url = storetest.fresh_pg_url
url = storetest.url


async def _scalar(store: SqlStore, sql: str) -> Any:
    async with store.engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar_one()


# -- SQLite ------------------------------------------------------------------------------


async def test_sqlite_pragmas_hold_on_every_connection(sqlite_store: SqlStore) -> None:
    async def pragmas() -> tuple[Any, ...]:
        async with sqlite_store.engine.connect() as conn:
            values = []
            for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous"):
                values.append((await conn.execute(text(f"PRAGMA {name}"))).scalar_one())
            await asyncio.sleep(0.01)  # keep this connection busy so the next one is new
            return tuple(values)

    assert await asyncio.gather(pragmas(), pragmas(), pragmas()) == [("wal", 5000, 1, 1)] * 3


async def test_sqlite_wal_is_persistent_in_the_file(sqlite_store: SqlStore, db_path: Path) -> None:
    with contextlib.closing(sqlite3.connect(db_path)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_sqlite_creates_the_parent_directory(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "habla.db"
    async with opened(sqlite_url(path)) as store:
        await store.create_conversation(user_id=USER, persona="p", model="m", title="t")
    assert path.is_file()


async def test_sqlite_data_survives_close_and_reopen(db_path: Path) -> None:
    url = sqlite_url(db_path)
    picture = bytes(range(256))
    async with opened(url) as store:
        conv = await store.create_conversation(user_id=USER, persona="p", model="m", title="t")
        sent = Message("user", (Text("look"), Image(picture, "image/png")))
        stored = await store.append_message(conv.id, sent, user_id=USER)
    async with opened(url) as reopened:
        got = await reopened.get_conversation(conv.id, user_id=USER)
        assert (got.id, got.title, got.created_at) == (conv.id, "t", conv.created_at)
        assert got.updated_at == stored.created_at
        assert await reopened.list_messages(conv.id, user_id=USER) == [stored]


async def test_plain_sqlite_url_means_aiosqlite(db_path: Path) -> None:
    async with opened(f"sqlite:///{db_path}") as store:
        assert store.engine.url.drivername == "sqlite+aiosqlite"


async def test_sqlite_delete_cascades_to_message_rows(
    sqlite_store: SqlStore, db_path: Path
) -> None:
    assert await _scalar(sqlite_store, "PRAGMA foreign_keys") == 1
    conv = await sqlite_store.create_conversation(user_id=USER, persona="p", model="m", title="t")
    for word in ("one", "two", "three"):
        await sqlite_store.append_message(conv.id, Message.of("user", word), user_id=USER)

    def count() -> int:
        with contextlib.closing(sqlite3.connect(db_path)) as raw:
            query = "SELECT count(*) FROM messages WHERE conversation_id = ?"
            return int(raw.execute(query, (conv.id,)).fetchone()[0])

    assert count() == 3
    await sqlite_store.delete_conversation(conv.id, user_id=USER)
    assert count() == 0


async def test_sqlite_in_memory_is_refused() -> None:
    with pytest.raises(ConfigError, match="in-memory"):
        SqlStore("sqlite+aiosqlite://")
    with pytest.raises(ConfigError, match="in-memory"):
        SqlStore("sqlite+aiosqlite:///:memory:")


# -- migrations --------------------------------------------------------------------------


async def test_stores_on_different_databases_start_concurrently(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    # Alembic's proxies are process-wide: unguarded, these upgrades would interleave.
    urls = [f"sqlite+aiosqlite:///{tmp_path / f'db{i}.sqlite'}" for i in range(3)]
    stores = [SqlStore(u) for u in [*urls, fresh_pg_url]]
    try:
        await asyncio.gather(*(s.start() for s in stores))
        for store in stores:
            async with store.engine.connect() as conn:
                assert await conn.run_sync(_diff) == []
    finally:
        await asyncio.gather(*(s.close() for s in stores))


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
    )
    return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_metadata(url: str) -> None:
    async with opened(url) as store, store.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        # Revision 0004 (data at rest): a key id per row where content is sealed.
        for sealed in ("conversations", "messages"):
            columns = await conn.run_sync(lambda c, t=sealed: inspect(c).get_columns(t))
            key_id = next(col for col in columns if col["name"] == "key_id")
            assert key_id["nullable"] is True
    assert tables == {
        "conversations",
        "messages",
        "usage",
        "users",
        "api_keys",
        "audit_log",
        # Telegram (#4), revision 0003
        "telegram_links",
        "telegram_link_codes",
        "telegram_chats",
        "telegram_users",
        "telegram_updates",
        VERSION_TABLE,
    }


async def test_start_twice_is_harmless(url: str) -> None:
    async with opened(url) as store:
        conv = await store.create_conversation(user_id=USER, persona="p", model="m", title="t")
        await store.start()
        async with opened(url) as again:
            assert await again.get_conversation(conv.id, user_id=USER) == conv
            async with again.engine.connect() as conn:
                versions = (await conn.execute(select(_VERSIONS.c.version_num))).scalars()
                assert list(versions) == [_HEAD]


async def test_concurrent_starts_migrate_once(url: str) -> None:
    stores = [SqlStore(url) for _ in range(3)]
    try:
        await asyncio.gather(*(s.start() for s in stores))
        conv = await stores[0].create_conversation(user_id=USER, persona="p", model="m", title="t")
        assert await stores[2].get_conversation(conv.id, user_id=USER) == conv
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_downgrade_to_base_and_back(url: str) -> None:
    async with opened(url) as store:
        async with store.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "base"))
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert names <= {VERSION_TABLE}
        await store.start()
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_diff) == []


async def test_database_from_a_newer_habla_is_a_config_error(db_path: Path) -> None:
    url = sqlite_url(db_path)
    async with opened(url) as store, store.engine.begin() as conn:
        await conn.execute(update(_VERSIONS).values(version_num="9999"))
    store = SqlStore(url)
    try:
        with pytest.raises(ConfigError, match="newer habla"):
            await store.start()
    finally:
        await store.close()


# -- configuration errors ----------------------------------------------------------------


async def test_unreachable_postgres_is_a_config_error_without_the_password() -> None:
    store = SqlStore("postgresql+asyncpg://habla:s3cr3t-pw@127.0.0.1:1/habla")
    try:
        with pytest.raises(ConfigError) as caught:
            await store.start()
    finally:
        await store.close()
    message = str(caught.value)
    assert "cannot connect to the database" in message
    assert "127.0.0.1:1/habla" in message
    assert "s3cr3t-pw" not in message


async def test_missing_postgres_database_is_a_config_error(fresh_pg_url: str) -> None:
    missing = fresh_pg_url.rsplit("/", 1)[0] + f"/habla_missing_{uuid.uuid4().hex[:8]}"
    store = SqlStore(missing)
    try:
        with pytest.raises(ConfigError, match="cannot connect to the database"):
            await store.start()
    finally:
        await store.close()


def test_asyncpg_is_imported_only_for_postgresql(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from habla.store.sql import SqlStore\n"
        f"SqlStore('sqlite+aiosqlite:///{tmp_path / 'x.db'}')\n"
        "assert 'asyncpg' not in sys.modules, 'asyncpg imported for SQLite'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def test_bad_urls_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="could not be parsed"):
        SqlStore("not a url at all")
    with pytest.raises(ConfigError, match="unsupported database"):
        SqlStore("mysql+aiomysql://u:pw@127.0.0.1/db")


async def test_naive_since_is_refused(sqlite_store: SqlStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await sqlite_store.usage_since(user_id=USER, since=datetime(2025, 1, 1))


# -- codec -------------------------------------------------------------------------------


def test_codec_round_trips_parts_byte_exact() -> None:
    parts = (Text("héllo 👋\x00\ud800"), Image(bytes(range(256)) * 3, "image/webp"), Text(""))
    raw = encode_parts(parts)
    assert raw.isascii()
    assert decode_parts(raw) == parts
    assert decode_parts(encode_parts(())) == ()


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ('[{"type": "audio", "data": "AAAA"}]', "unknown message part type 'audio'"),
        ('[{"type": "image", "mime": "image/png", "data": "not base64!"}]', "not a valid image"),
        ('[{"type": "image", "mime": "text/plain", "data": "AAAA"}]', "not a valid image"),
        ('[{"type": "text"}]', "lacks a string 'text'"),
        ('{"type": "text", "text": "x"}', "must be a JSON list"),
        ("[1]", "not a JSON object"),
        ("[", "not valid JSON"),
    ],
)
def test_codec_refuses_what_it_cannot_read(raw: str, complaint: str) -> None:
    with pytest.raises(CodecError, match=complaint):
        decode_parts(raw)


async def test_stored_unknown_part_type_is_a_clear_error(sqlite_store: SqlStore) -> None:
    conv = await sqlite_store.create_conversation(user_id=USER, persona="p", model="m", title="t")
    stored = await sqlite_store.append_message(conv.id, Message.of("user", "x"), user_id=USER)
    async with sqlite_store.engine.begin() as conn:
        await conn.execute(
            text("UPDATE messages SET parts = :parts WHERE id = :id"),
            {"parts": '[{"type": "video", "url": "x"}]', "id": stored.id},
        )
    with pytest.raises(CodecError, match="unknown message part type 'video'"):
        await sqlite_store.list_messages(conv.id, user_id=USER)
