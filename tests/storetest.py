"""Store fixtures and helpers shared by the store test modules.

A module uses a fixture by binding it to a module name (``store = storetest.store``):
pytest finds fixtures by module attribute, and a plain assignment, unlike an import,
does not read as an unused name that every test argument then redefines.

- ``pg_url``: one throwaway PostgreSQL database for the whole module (``pgtest``); the
  tests sharing it use freshly named rows.
- ``fresh_pg_url``: a throwaway PostgreSQL database per test.
- ``store``: a started store of each kind (memory, SQLite, PostgreSQL on ``pg_url``).
- ``url``: the URL of an empty, not yet migrated database of each kind (SQLite file,
  PostgreSQL on ``fresh_pg_url``).

It does not seed data: what goes in is each module's business.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import pgtest
from habla.store.crypto import Keyring
from habla.store.memory import MemoryStore
from habla.store.sql import SqlStore


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _postgres_database() -> Iterator[str]:
    url = pgtest.create_database()
    yield url
    pgtest.drop_database(url)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    yield from _postgres_database()


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    yield from _postgres_database()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[MemoryStore | SqlStore]:
    made: MemoryStore | SqlStore
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SqlStore(sqlite_url(tmp_path / "habla.db"))
    else:
        made = SqlStore(request.getfixturevalue("pg_url"))
    try:
        await made.start()
        yield made
    finally:
        await made.close()


def empty_database(request: pytest.FixtureRequest, sqlite_file: Path) -> str:
    """For a fixture parametrized by ``["sqlite", "postgres"]``: the SQLite file's URL, or
    ``fresh_pg_url`` (which the requesting module must have bound too)."""
    if request.param == "sqlite":
        return sqlite_url(sqlite_file)
    return str(request.getfixturevalue("fresh_pg_url"))


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind, not yet migrated."""
    return empty_database(request, tmp_path / "habla.db")


@contextlib.asynccontextmanager
async def opened(url: str, keyring: Keyring | None = None) -> AsyncIterator[SqlStore]:
    """A started SQL store on ``url``, closed at the end of the block."""
    store = SqlStore(url, keyring=keyring)
    try:
        await store.start()
        yield store
    finally:
        await store.close()
