"""Alembic migrations of the SQL store, and :func:`upgrade_to_head`, which runs them.

No ``alembic.ini``: the config is built in code and handed an open connection (see
``env.py``). Start-ups that race are serialised three ways, because each one alone is
not enough:

* in this process, a lock: Alembic's ``context``/``op`` are process-wide proxies, so two
  upgrades interleaving (on one event loop via greenlets, or in two threads) would run
  each other's statements, even against different databases;
* on PostgreSQL, ``pg_advisory_xact_lock`` held for the migrating transaction, for
  replicas on other machines;
* on SQLite, ``BEGIN IMMEDIATE``, for other processes (e.g. several server workers).

The revisions themselves live in ``versions/``. This module does not create engines and
does not decide when to migrate; :meth:`habla.store.sql.SqlStore.start` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

SCRIPT_LOCATION = Path(__file__).parent
_PG_LOCK_KEY = int.from_bytes(b"habla.db")  # any fixed 64-bit key, ours alone
_IN_PROCESS = threading.Lock()  # guards Alembic's global proxies; see the module docstring


def alembic_config(connection: Connection) -> Config:
    """An Alembic config that migrates over ``connection`` (which the caller owns)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


async def upgrade_to_head(conn: AsyncConnection) -> None:
    """Migrates to head inside the caller's transaction on ``conn``; safe to race."""
    async with _one_at_a_time_in_process():
        await _lock_database(conn)
        await conn.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


@contextlib.asynccontextmanager
async def _one_at_a_time_in_process() -> AsyncIterator[None]:
    # Polling instead of a blocking acquire: it never stalls the event loop, works across
    # loops and threads, and a cancelled waiter cannot leave the lock taken.
    while not _IN_PROCESS.acquire(blocking=False):  # noqa: ASYNC110 (no cross-loop Event)
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        _IN_PROCESS.release()


async def _lock_database(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        # Held until the transaction ends; the next replica then finds the schema at head.
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        # sqlite3's legacy transaction mode would not BEGIN before DDL; take the write lock
        # up front so another process waits (busy_timeout) and then sees the schema done.
        raw = await conn.get_raw_connection()
        if not raw.driver_connection.in_transaction:  # type: ignore[union-attr]
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
