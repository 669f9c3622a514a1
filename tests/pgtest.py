"""Throwaway PostgreSQL databases for the store tests.

The server is expected on 127.0.0.1:5432 with trust auth and a database ``test`` (CI has
it; override with ``HABLA_TEST_PG``, an asyncpg DSN of the admin database). Each caller
gets a freshly created, uniquely named database and drops it when done, so parallel or
repeated runs never collide. An unreachable server is an error, never a skip.

The admin work runs ``asyncio.run`` in a worker thread so that it can be called from
synchronous fixtures without touching pytest-asyncio's event loops.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
from sqlalchemy import make_url

ADMIN_DSN = os.environ.get("HABLA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def create_database() -> str:
    """Creates ``habla_t_<random>`` and returns its SQLAlchemy (asyncpg) URL."""
    name = f"habla_t_{secrets.token_hex(6)}"
    _run(_execute(f'CREATE DATABASE "{name}"'))
    return _sqlalchemy_url(name)


def drop_database(url: str) -> None:
    name = make_url(url).database
    _run(_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _sqlalchemy_url(name: str) -> str:
    admin = make_url(ADMIN_DSN)
    return admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(
        hide_password=False
    )


async def _execute(statement: str) -> None:
    try:
        conn = await asyncpg.connect(ADMIN_DSN, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(
            f"the PostgreSQL test server is not reachable at {ADMIN_DSN} ({exc!r});"
            " these tests need it (CI runs one): start PostgreSQL or set HABLA_TEST_PG"
        ) from exc
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _run(coro: Coroutine[Any, Any, None]) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()
