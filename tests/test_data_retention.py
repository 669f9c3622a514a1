"""Retention on SQLite and PostgreSQL: purges hard-delete old messages (with their
images), usage rows and emptied conversations, in batches; dry runs change nothing;
every purge is audited with counts only; deleted content is gone from the SQLite file;
and the server's background sweeper does it on its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

import storetest
from habla.core.events import Usage
from habla.core.messages import Image, Message, Text
from habla.runtime.data import purge
from habla.settings import Settings
from habla.store.base import UsageRecord
from habla.store.crypto import Keyring, new_key
from habla.store.schema import audit_log, conversations, messages, usage
from habla.store.sql import SqlStore
from habla.store.sql_retention import PurgeCounts
from storetest import opened, sqlite_url
from test_api_support import Launcher

USER = "alice"
OLD = datetime.now(UTC) - timedelta(days=40)
MARKER = "purple-elephant-4111"


# The shared store fixtures (storetest.py), bound here so that pytest finds them.
fresh_pg_url = storetest.fresh_pg_url
url = storetest.url


@dataclass
class Seeded:
    mixed: str  # two old messages, one new
    all_old: str  # only old messages: emptied by the purge
    new_empty: str  # created now, no messages: stays
    old_empty: str  # idle since long ago, no messages: goes


async def seed(store: SqlStore) -> Seeded:
    async def conversation(title: str) -> str:
        record = await store.create_conversation(user_id=USER, persona="p", model="m", title=title)
        return record.id

    ids = Seeded(*[await conversation(t) for t in ("mixed", "all old", "new empty", "old empty")])
    old_messages = []
    for conv in (ids.mixed, ids.all_old):
        for content in (MARKER, "old image"):
            parts = (Text(content), Image(f"{MARKER}-pixels".encode(), "image/png"))
            stored = await store.append_message(conv, Message("user", parts), user_id=USER)
            old_messages.append(stored.id)
    await store.append_message(ids.mixed, Message.of("user", "recent"), user_id=USER)
    for conv in (ids.mixed, ids.all_old):
        await store.record_usage(UsageRecord(USER, conv, "m", Usage(3, 4), 10, "stop"))
    async with store.engine.begin() as conn:
        await conn.execute(
            update(messages).where(messages.c.id.in_(old_messages)).values(created_at=OLD)
        )
        await conn.execute(
            update(conversations)
            .where(conversations.c.id.in_([ids.all_old, ids.old_empty]))
            .values(updated_at=OLD)
        )
        await conn.execute(
            update(usage).where(usage.c.conversation_id == ids.all_old).values(created_at=OLD)
        )
    return ids


async def count(store: SqlStore, table: Any) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def snapshot(store: SqlStore) -> tuple[int, int, int]:
    return (
        await count(store, messages),
        await count(store, usage),
        await count(store, conversations),
    )


@pytest.mark.parametrize("encrypted", [False, True])
async def test_purge_deletes_old_rows_and_emptied_conversations(url: str, encrypted: bool) -> None:
    ring = Keyring.from_settings(new_key()) if encrypted else None
    async with opened(url, ring) as store:
        ids = await seed(store)
        assert await snapshot(store) == (5, 2, 4)
        cutoff = datetime.now(UTC) - timedelta(days=30)
        expected = PurgeCounts(messages=4, usage=1, conversations=2)
        assert await store.purge_older_than(cutoff, batch_size=1, dry_run=True) == expected
        assert await snapshot(store) == (5, 2, 4)  # the dry run changed nothing

        assert await store.purge_older_than(cutoff, batch_size=1) == expected
        assert await snapshot(store) == (1, 1, 2)
        left = await store.list_conversations(user_id=USER)
        assert {c.id for c in left} == {ids.mixed, ids.new_empty}
        [recent] = await store.list_messages(ids.mixed, user_id=USER)
        assert recent.message.text == "recent"
        # A second purge finds nothing.
        assert await store.purge_older_than(cutoff, batch_size=3) == PurgeCounts(0, 0, 0)


async def test_purge_is_audited_with_counts_only(url: str) -> None:
    async with opened(url) as store:
        await seed(store)
        dry = await purge(store, older_than=timedelta(days=30), batch_size=2, dry_run=True)
        assert dry == PurgeCounts(4, 1, 2)
        assert await store.tail_audit() == []  # a dry run is not a purge
        done = await purge(store, older_than=timedelta(days=30), batch_size=2)
        assert done == dry
        [entry] = await store.tail_audit()
    assert (entry.actor, entry.action, entry.target) == ("cli", "data.purged", "retention")
    assert entry.detail.startswith("messages=4 usage=1 conversations=2 cutoff=")
    assert MARKER not in entry.detail


async def test_bad_purge_arguments_change_nothing(url: str) -> None:
    async with opened(url) as store:
        await seed(store)
        with pytest.raises(ValueError, match="timezone-aware"):
            await store.purge_older_than(datetime(2020, 1, 1), batch_size=10)
        with pytest.raises(ValueError, match="batch_size"):
            await store.purge_older_than(datetime.now(UTC), batch_size=0)
        assert await snapshot(store) == (5, 2, 4)


async def test_purged_content_is_overwritten_in_the_sqlite_file(tmp_path: Path) -> None:
    async with opened(sqlite_url(tmp_path / "habla.db")) as store:
        await seed(store)
        on_disk = disk_bytes(tmp_path)
        assert MARKER.encode() in on_disk  # plaintext store: the marker is really there
        await store.purge_older_than(datetime.now(UTC) - timedelta(days=30), batch_size=2)
    on_disk = disk_bytes(tmp_path)
    assert MARKER.encode() not in on_disk


def test_the_server_sweeper_purges_on_its_own(
    make_settings: Callable[..., Settings],
    write_script: Callable[..., Path],
    tmp_path: Path,
    url: str,
) -> None:
    launch = Launcher(make_settings, write_script, tmp_path)
    db_url = url

    async def age_everything() -> None:
        async with opened(db_url) as store, store.engine.begin() as conn:
            await conn.execute(update(messages).values(created_at=OLD))
            await conn.execute(update(conversations).values(updated_at=OLD))
            await conn.execute(update(usage).values(created_at=OLD))

    async def audit_rows() -> list[Any]:
        async with opened(db_url) as store, store.engine.connect() as conn:
            query = select(audit_log.c.actor, audit_log.c.action, audit_log.c.detail)
            return list((await conn.execute(query)).all())

    options = {"database_url": db_url, "retention_days": 30, "retention_interval_seconds": 0.05}
    with launch(["Old answer."], **options) as api:
        reply = api.http.post("/chat", json={"prompt": MARKER})
        assert reply.status_code == 200, reply.text
        conv_id = reply.json()["conversation_id"]
        asyncio.run(age_everything())
        for _ in range(400):  # the sweeper runs every 0.05 s; bounded wait, no timing claim
            if api.http.get(f"/v1/conversations/{conv_id}").status_code == 404:
                break
            time.sleep(0.05)
        assert api.http.get(f"/v1/conversations/{conv_id}").status_code == 404
        assert api.http.get("/v1/conversations").json()["data"] == []
    rows = asyncio.run(audit_rows())
    purges = [r for r in rows if r.action == "data.purged"]
    assert purges and all(r.actor == "retention" for r in purges)
    # A sweep can run while the rows are being aged, and so take only part of them; the
    # sweeps between them took everything, each audited with its own counts.
    totals: dict[str, int] = {}
    for row in purges:
        for name, count in (pair.split("=") for pair in row.detail.split()[:3]):
            totals[name] = totals.get(name, 0) + int(count)
    assert totals == {"messages": 2, "usage": 1, "conversations": 1}
    assert all(MARKER not in r.detail for r in rows)


def disk_bytes(folder: Path) -> bytes:
    """Every file of the database (main file, WAL, shared memory) as raw bytes."""
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())
