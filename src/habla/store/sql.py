"""The SQL :class:`~habla.store.base.ConversationStore`: SQLAlchemy 2 async on SQLite or PostgreSQL.

``SqlStore("sqlite+aiosqlite:///var/habla.db")`` or
``SqlStore("postgresql+asyncpg://user:pw@host/db")`` (plain ``sqlite://`` and
``postgresql://`` are read as those). :meth:`SqlStore.start` migrates the schema to head
with Alembic; :meth:`SqlStore.close` disposes the engine.

Ownership is part of every query: a conversation is only ever selected, changed or
deleted together with ``user_id``, and a foreign one is reported exactly like a missing
one. SQLite connections get WAL, a busy timeout and foreign keys on every connect. The
schema is in :mod:`habla.store.schema`. Users, API keys and audit rows (the
:class:`~habla.store.accounts.AccountStore` half) are in :mod:`habla.store.sql_accounts`;
encryption of titles and message parts (with a keyring given) in
:mod:`habla.store.sql_data`, retention purges in :mod:`habla.store.sql_retention`.
This module does not retry on a lost connection (the PostgreSQL pool pre-pings).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.util.exc import CommandError
from sqlalchemy import (
    URL,
    Row,
    delete,
    event,
    func,
    insert,
    make_url,
    select,
    text,
    update,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from habla.core.errors import ConfigError, NotFound
from habla.core.events import Usage
from habla.core.messages import Message, Text
from habla.store.base import ConversationRecord, MessageStatus, StoredMessage, UsageRecord
from habla.store.crypto import Keyring
from habla.store.migrations import upgrade_to_head
from habla.store.schema import conversations, messages, usage
from habla.store.sql_accounts import SqlAccounts
from habla.store.sql_data import SqlData
from habla.store.sql_retention import SqlRetention
from habla.store.sql_telegram import SqlTelegram

_NO_CONVERSATION = "no such conversation"
_NO_MESSAGE = "no such message"

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
_SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=5000",  # wait up to 5 s for the write lock instead of failing
    "PRAGMA foreign_keys=ON",  # off by default; deletes rely on ON DELETE CASCADE
    "PRAGMA synchronous=NORMAL",  # durable enough under WAL, far fewer fsyncs
    "PRAGMA secure_delete=ON",  # deleted content is overwritten, not left in free pages
)


_WAL_ATTEMPTS = 50


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


class SqlStore(SqlData, SqlRetention, SqlAccounts, SqlTelegram):
    """A :class:`~habla.store.base.ConversationStore` and
    :class:`~habla.store.accounts.AccountStore` over one SQLAlchemy async engine.

    ``keyring``: encrypt conversation titles and message parts at rest (see
    :mod:`habla.store.sql_data`); None stores them as plaintext."""

    def __init__(self, url: str, *, echo: bool = False, keyring: Keyring | None = None) -> None:
        self._url = _parse_url(url)
        self._engine = _build_engine(self._url, echo=echo)
        self._keyring = keyring

    @property
    def engine(self) -> AsyncEngine:
        """The engine, for health checks and tests; queries belong in this class."""
        return self._engine

    def __repr__(self) -> str:
        return f"SqlStore({_safe(self._url)!r})"

    async def start(self) -> None:
        """Connect once (a clear :class:`ConfigError` if that fails), migrate to head, then
        check that the keyring holds every key the rows were encrypted under (a
        :class:`ConfigError` naming the missing key ids if not)."""
        _ensure_sqlite_directory(self._url)
        await _check_reachable(self._engine, self._url)
        await _verify_wal(self._engine, self._url)
        try:
            async with self._engine.begin() as conn:
                await upgrade_to_head(conn)
        except CommandError as exc:
            raise ConfigError(
                f"cannot migrate the database at {_safe(self._url)}: {exc}"
                " (was it created by a newer habla?)"
            ) from exc
        await self.check_data_keys()

    async def close(self) -> None:
        await self._engine.dispose()

    # -- conversations ---------------------------------------------------------------

    async def create_conversation(
        self, *, user_id: str, persona: str, model: str, title: str
    ) -> ConversationRecord:
        now = _now()
        record = ConversationRecord(_new_id(), user_id, title, persona, model, now, now)
        stored_title, key_id = self._seal(title, "conversations", "title", record.id)
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(conversations).values(
                    id=record.id,
                    user_id=user_id,
                    title=stored_title,
                    persona=persona,
                    model=model,
                    created_at=now,
                    updated_at=now,
                    key_id=key_id,
                )
            )
        return record

    async def get_conversation(self, conversation_id: str, *, user_id: str) -> ConversationRecord:
        async with self._engine.connect() as conn:
            return self._conversation(await _owned_conversation(conn, conversation_id, user_id))

    async def list_conversations(
        self, *, user_id: str, limit: int = 50
    ) -> list[ConversationRecord]:
        if limit <= 0:
            return []
        query = (
            select(conversations)
            .where(conversations.c.user_id == user_id)
            .order_by(conversations.c.updated_at.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [self._conversation(row) for row in rows]

    async def rename_conversation(
        self, conversation_id: str, *, user_id: str, title: str
    ) -> ConversationRecord:
        stored_title, key_id = self._seal(title, "conversations", "title", conversation_id)
        query = (
            update(conversations)
            .where(conversations.c.id == conversation_id, conversations.c.user_id == user_id)
            .values(title=stored_title, key_id=key_id, updated_at=_now())
            .returning(*conversations.c)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(query)).one_or_none()
        if row is None:
            raise NotFound(_NO_CONVERSATION)
        return self._conversation(row)

    async def delete_conversation(self, conversation_id: str, *, user_id: str) -> None:
        # Messages go with it through ON DELETE CASCADE (SQLite: PRAGMA foreign_keys=ON).
        query = delete(conversations).where(
            conversations.c.id == conversation_id, conversations.c.user_id == user_id
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(query)
            if result.rowcount != 1:
                raise NotFound(_NO_CONVERSATION)

    # -- messages --------------------------------------------------------------------

    async def append_message(
        self,
        conversation_id: str,
        message: Message,
        *,
        user_id: str,
        status: MessageStatus = "complete",
        model: str | None = None,
    ) -> StoredMessage:
        now = _now()
        message_id = _new_id()
        # Sealed before the transaction: no encryption while holding the write lock.
        parts, key_id = self._seal_parts(message.parts, message_id)
        async with self._engine.begin() as conn:
            # The UPDATE comes first on purpose: it checks ownership and takes the write
            # lock (a row lock on PostgreSQL, the database lock on SQLite) before max(seq)
            # is read, so concurrent appends to one conversation queue up instead of
            # picking the same seq.
            bumped = await conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id, conversations.c.user_id == user_id)
                .values(updated_at=now)
            )
            if bumped.rowcount != 1:
                raise NotFound(_NO_CONVERSATION)
            last = await conn.execute(
                select(func.coalesce(func.max(messages.c.seq), 0)).where(
                    messages.c.conversation_id == conversation_id
                )
            )
            seq = int(last.scalar_one()) + 1
            await conn.execute(
                insert(messages).values(
                    id=message_id,
                    conversation_id=conversation_id,
                    seq=seq,
                    role=message.role,
                    parts=parts,
                    status=status,
                    model=model,
                    created_at=now,
                    key_id=key_id,
                )
            )
        return StoredMessage(message_id, conversation_id, seq, message, status, model, now)

    async def update_message_text(
        self, message_id: str, *, user_id: str, text: str, status: MessageStatus
    ) -> None:
        owned = (
            select(messages.c.parts, messages.c.key_id)
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(messages.c.id == message_id, conversations.c.user_id == user_id)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(owned)).one_or_none()
            if row is None:
                raise NotFound(_NO_MESSAGE)
            # Same rule as the memory store: the new text replaces every text part and
            # leads; images and other parts keep their order after it.
            current = self._open_parts(row.parts, row.key_id, message_id)
            others = tuple(p for p in current if not isinstance(p, Text))
            parts, key_id = self._seal_parts((Text(text), *others), message_id)
            result = await conn.execute(
                update(messages)
                .where(messages.c.id == message_id)
                .values(parts=parts, key_id=key_id, status=status)
            )
            if result.rowcount != 1:  # the conversation was deleted in between
                raise NotFound(_NO_MESSAGE)

    async def list_messages(self, conversation_id: str, *, user_id: str) -> list[StoredMessage]:
        query = (
            select(messages)
            .where(messages.c.conversation_id == conversation_id)
            .order_by(messages.c.seq)
        )
        async with self._engine.connect() as conn:
            await _owned_conversation(conn, conversation_id, user_id)
            rows = (await conn.execute(query)).all()
        return [self._stored_message(row) for row in rows]

    # -- usage -----------------------------------------------------------------------

    async def record_usage(self, record: UsageRecord) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(usage).values(
                    user_id=record.user_id,
                    conversation_id=record.conversation_id,
                    model=record.model,
                    prompt_tokens=record.usage.prompt_tokens,
                    completion_tokens=record.usage.completion_tokens,
                    latency_ms=record.latency_ms,
                    finish_reason=record.finish_reason,
                    created_at=_now(),
                )
            )

    async def usage_since(self, *, user_id: str, since: datetime) -> Usage:
        if since.tzinfo is None:
            raise ValueError("usage_since needs a timezone-aware datetime")
        query = select(
            func.coalesce(func.sum(usage.c.prompt_tokens), 0),
            func.coalesce(func.sum(usage.c.completion_tokens), 0),
        ).where(usage.c.user_id == user_id, usage.c.created_at >= since)
        async with self._engine.connect() as conn:
            prompt, completion = (await conn.execute(query)).one()
        return Usage(int(prompt), int(completion))


async def _owned_conversation(
    conn: AsyncConnection, conversation_id: str, user_id: str
) -> Row[Any]:
    query = select(conversations).where(
        conversations.c.id == conversation_id, conversations.c.user_id == user_id
    )
    row = (await conn.execute(query)).one_or_none()
    if row is None:
        raise NotFound(_NO_CONVERSATION)
    return row


# -- engine and migrations -------------------------------------------------------------


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _parse_url(raw: str) -> URL:
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        # The message leaves the URL out: it may carry a password.
        raise ConfigError("the database URL could not be parsed") from exc
    url = url.set(drivername=_ASYNC_DRIVERS.get(url.drivername, url.drivername))
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"unsupported database {_safe(url)}: use SQLite or PostgreSQL")
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise ConfigError(
            "an in-memory SQLite database loses its data between connections;"
            " give a file path (sqlite+aiosqlite:///path/habla.db) or use the memory store"
        )
    return url


def _build_engine(url: URL, *, echo: bool) -> AsyncEngine:
    options: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        options["pool_pre_ping"] = True  # a restarted server must not fail the next request
    if url.get_driver_name() == "asyncpg":
        options["connect_args"] = {"timeout": 10}  # fail start() in seconds, not minutes
    try:
        engine = create_async_engine(url, echo=echo, **options)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the database driver for {_safe(url)} is not installed ({exc}); habla supports"
            ' sqlite+aiosqlite and postgresql+asyncpg (pip install "habla[postgres]")'
        ) from exc
    except (ArgumentError, SQLAlchemyError) as exc:
        raise ConfigError(f"cannot use the database URL {_safe(url)}: {exc}") from exc
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
        _try_wal(cursor)
    finally:
        cursor.close()


def _try_wal(cursor: Any) -> None:
    """Switch the file to WAL (readers and the one writer stop blocking each other).

    WAL is a property of the file, so one connection switching it is enough. Switching
    needs an exclusive lock and SQLite can refuse at once (no busy wait) while another
    connection is mid-switch; that loser simply finds the file in WAL afterwards, and
    ``SqlStore.start`` verifies the outcome.
    """
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() == "wal":
        return
    with contextlib.suppress(Exception):  # the driver's OperationalError, "database is locked"
        cursor.execute("PRAGMA journal_mode=WAL")


async def _verify_wal(engine: AsyncEngine, url: URL) -> None:
    if url.get_backend_name() != "sqlite":
        return
    for _ in range(_WAL_ATTEMPTS):
        try:
            async with engine.connect() as conn:
                mode = (await conn.exec_driver_sql("PRAGMA journal_mode=WAL")).scalar()
        except OperationalError:
            mode = None  # another connection holds the lock for a moment
        if str(mode).lower() == "wal":
            return
        await asyncio.sleep(0.1)
    raise ConfigError(f"cannot switch the SQLite database {_safe(url)} to WAL mode")


def _ensure_sqlite_directory(url: URL) -> None:
    if url.get_backend_name() != "sqlite" or not url.database:
        return
    if url.database.startswith("file:"):  # a URI filename; SQLite resolves it
        return
    try:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the directory for {_safe(url)}: {exc}") from exc


async def _check_reachable(engine: AsyncEngine, url: URL) -> None:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OSError, SQLAlchemyError) as exc:
        raise ConfigError(
            f"cannot connect to the database at {_safe(url)}: {_reason(exc)}."
            " Check the URL and that the server is running."
        ) from exc


def _reason(exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return lines[0][:200] if lines else type(cause).__name__
