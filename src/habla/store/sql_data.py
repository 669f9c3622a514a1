"""Encryption at rest for :class:`~habla.store.sql.SqlStore`: sealing, the start-up key
check and key rotation, mixed into the store.

Two columns hold user content: ``conversations.title`` and ``messages.parts``. With a
:class:`~habla.store.crypto.Keyring` configured, both are sealed with the current key on
every write and the key's id goes in the row's ``key_id``; rows with ``key_id`` NULL are
plaintext (written before encryption was switched on) and read as they are until a
rotation seals them. Reading a sealed row without its key raises
:class:`~habla.core.errors.StoredDataError`; it never returns ciphertext or guesses.

:meth:`SqlData.check_data_keys` runs at start so that a wrong or missing key stops the
process with a clear :class:`~habla.core.errors.ConfigError` rather than failing request
by request. Rotation walks each table in id order (keyset pages, so it ends even while
the server keeps writing) and only rewrites a row whose ``key_id`` is still the one it
read. This module does not audit; the runtime does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Row, Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from habla.core.errors import ConfigError, StoredDataError
from habla.core.messages import Message, Part
from habla.store.base import ConversationRecord, MessageStatus, StoredMessage
from habla.store.codec import CodecError, decode_parts, decode_role, encode_parts
from habla.store.crypto import Keyring, Location
from habla.store.schema import conversations, messages

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each batch of a long operation."""

# (table, the column holding user content) for everything that gets sealed.
_SEALED: tuple[tuple[Table, str], ...] = ((conversations, "title"), (messages, "parts"))


@dataclass(frozen=True, slots=True)
class RotationReport:
    rows: int  # rows re-sealed under the current key
    from_key_ids: tuple[str, ...]  # what they were under ("plaintext" for NULL)
    to_key_id: str


class SqlData:
    """Seals and opens content columns with ``self._keyring`` (None: no encryption)."""

    _engine: AsyncEngine
    _keyring: Keyring | None

    # -- sealing ------------------------------------------------------------------------

    def _seal(self, value: str, table: str, column: str, row_id: str) -> tuple[str, str | None]:
        if self._keyring is None:
            return value, None
        return self._keyring.seal(value, Location(table, column, row_id))

    def _open(self, value: str, key_id: str | None, table: str, column: str, row_id: str) -> str:
        if key_id is None:  # written before encryption was switched on
            return value
        if self._keyring is None:
            # check_data_keys refuses to start like this; a row sealed by another replica
            # since then still must not be shown as text.
            raise StoredDataError(
                f"{table}.{column} of row {row_id} is encrypted but no data key is configured"
            )
        return self._keyring.open(value, key_id, Location(table, column, row_id))

    def _seal_parts(self, parts: tuple[Part, ...], message_id: str) -> tuple[str, str | None]:
        return self._seal(encode_parts(parts), "messages", "parts", message_id)

    def _open_parts(self, raw: str, key_id: str | None, message_id: str) -> tuple[Part, ...]:
        return decode_parts(self._open(raw, key_id, "messages", "parts", message_id))

    def _conversation(self, row: Row[Any]) -> ConversationRecord:
        return ConversationRecord(
            id=row.id,
            user_id=row.user_id,
            title=self._open(row.title, row.key_id, "conversations", "title", row.id),
            persona=row.persona,
            model=row.model,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def _stored_message(self, row: Row[Any]) -> StoredMessage:
        return StoredMessage(
            id=row.id,
            conversation_id=row.conversation_id,
            seq=row.seq,
            message=Message(decode_role(row.role), self._open_parts(row.parts, row.key_id, row.id)),
            status=_status(row.status),
            model=row.model,
            created_at=row.created_at,
        )

    # -- start-up check -----------------------------------------------------------------

    async def check_data_keys(self) -> None:
        """Refuse to run when sealed rows exist under a key the keyring lacks."""
        async with self._engine.connect() as conn:
            found: set[str] = set()
            for table, _column in _SEALED:
                query = select(table.c.key_id).where(table.c.key_id.is_not(None)).distinct()
                found.update(str(k) for k in (await conn.execute(query)).scalars())
        if not found:
            return
        ids = ", ".join(sorted(found))
        if self._keyring is None:
            raise ConfigError(
                f"the database holds content encrypted under data key(s) {ids}, but"
                " HABLA_ENCRYPTION_KEY is not set; set it (and HABLA_ENCRYPTION_OLD_KEYS for"
                " keys not yet rotated out) to the key(s) from your key backup"
            )
        missing = sorted(found - self._keyring.key_ids)
        if missing:
            raise ConfigError(
                f"the database holds content encrypted under data key(s) {', '.join(missing)},"
                f" which the configured keys ({', '.join(sorted(self._keyring.key_ids))}) do"
                " not include: HABLA_ENCRYPTION_KEY is wrong, or a key that has not been"
                " rotated out is missing from HABLA_ENCRYPTION_OLD_KEYS"
            )

    # -- rotation -----------------------------------------------------------------------

    async def count_unrotated(self) -> int:
        """Rows whose content is not sealed under the current key (plaintext included)."""
        current = self._require_keyring().current_id
        total = 0
        async with self._engine.connect() as conn:
            for table, _column in _SEALED:
                query = select(func.count()).select_from(table).where(_not_under(table, current))
                total += int((await conn.execute(query)).scalar_one())
        return total

    async def rotate_data_key(
        self, *, batch_size: int, progress: Progress | None = None
    ) -> RotationReport:
        """Re-seal every row not under the current key, ``batch_size`` rows a transaction."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        keyring = self._require_keyring()
        total = await self.count_unrotated()
        done = 0
        seen: set[str] = set()
        if progress is not None:
            progress(0, total)
        for table, column in _SEALED:
            after = ""
            while True:
                async with self._engine.begin() as conn:
                    rows = await _page(conn, table, column, keyring.current_id, after, batch_size)
                    if not rows:
                        break
                    changes = [self._reseal(table.name, column, row, seen) for row in rows]
                    await conn.execute(_guarded_update(table, column), changes)
                after = rows[-1].id
                done += len(rows)
                total = max(total, done)  # rows written under an old key since counting
                if progress is not None:
                    progress(done, total)
        return RotationReport(done, tuple(sorted(seen)), keyring.current_id)

    def _reseal(
        self, table: str, column: str, row: Row[str, str, str | None], seen: set[str]
    ) -> dict[str, Any]:
        seen.add(row.key_id or "plaintext")
        plain = self._open(row.value, row.key_id, table, column, row.id)
        if table == "messages":
            try:
                decode_parts(plain)  # never re-seal something that would not read back
            except CodecError as exc:
                raise CodecError(f"message {row.id}: {exc}") from exc
        sealed, key_id = self._seal(plain, table, column, row.id)
        return {"b_id": row.id, "b_old": row.key_id, "b_value": sealed, "b_key": key_id}

    def _require_keyring(self) -> Keyring:
        if self._keyring is None:
            raise ConfigError(
                "no data key is configured: set HABLA_ENCRYPTION_KEY (a new key from"
                " `habla keys new-data-key`) before rotating"
            )
        return self._keyring


def _not_under(table: Table, key_id: str) -> Any:
    return or_(table.c.key_id.is_(None), table.c.key_id != key_id)


async def _page(
    conn: AsyncConnection, table: Table, column: str, current: str, after: str, limit: int
) -> Sequence[Row[str, str, str | None]]:
    content: Column[Any] = table.c[column]
    query = (
        select(table.c.id, content.label("value"), table.c.key_id)
        .where(_not_under(table, current), table.c.id > after)
        .order_by(table.c.id)
        .limit(limit)
    )
    return (await conn.execute(query)).all()


def _guarded_update(table: Table, column: str) -> Any:
    # Only if the row still has the key id we read: a concurrent write sealed it under the
    # current key already, and must not be overwritten with older content.
    return (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.key_id.is_not_distinct_from(bindparam("b_old")),
        )
        .values({column: bindparam("b_value"), "key_id": bindparam("b_key")})
    )


def _status(raw: str) -> MessageStatus:
    statuses: tuple[MessageStatus, ...] = ("complete", "incomplete")
    for status in statuses:
        if raw == status:
            return status
    raise CodecError(f"unknown message status {raw!r} in the database")
