"""Retention for :class:`~habla.store.sql.SqlStore`: hard-delete everything older than a
cutoff, mixed into the store.

What goes: messages created before the cutoff (their images go with them: attachments
live in the message parts), usage rows recorded before it, and conversations left empty
whose last change is before it. Deletes run in batches, one short transaction each, so a
large purge never holds the write lock for long. On SQLite the connection has
``secure_delete`` on (deleted content is overwritten in the file) and a purge ends with a
WAL checkpoint so the old pages do not linger in the write-ahead log either.

This module neither decides the cutoff nor audits; the runtime does both. A dry run counts
what would go and changes nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, exists, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from habla.store.schema import conversations, messages, usage


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    messages: int
    usage: int
    conversations: int

    def __str__(self) -> str:  # audit detail: counts only, never content
        return f"messages={self.messages} usage={self.usage} conversations={self.conversations}"


class SqlRetention:
    """Age-based hard deletes over ``self._engine`` (set by the class using this)."""

    _engine: AsyncEngine

    async def purge_older_than(
        self, cutoff: datetime, *, batch_size: int, dry_run: bool = False
    ) -> PurgeCounts:
        """Delete (or with ``dry_run`` only count) what is older than ``cutoff``."""
        if cutoff.tzinfo is None:
            raise ValueError("purge_older_than needs a timezone-aware datetime")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if dry_run:
            return await self._count_purgeable(cutoff)
        counts = PurgeCounts(
            messages=await self._delete_batches(
                messages, messages.c.created_at < cutoff, batch_size
            ),
            usage=await self._delete_batches(usage, usage.c.created_at < cutoff, batch_size),
            conversations=await self._delete_batches(
                conversations, _empty_and_idle(cutoff), batch_size
            ),
        )
        await self._checkpoint()
        return counts

    async def _count_purgeable(self, cutoff: datetime) -> PurgeCounts:
        async with self._engine.connect() as conn:

            async def count(table: Table, where: Any) -> int:
                query = select(func.count()).select_from(table).where(where)
                return int((await conn.execute(query)).scalar_one())

            return PurgeCounts(
                messages=await count(messages, messages.c.created_at < cutoff),
                usage=await count(usage, usage.c.created_at < cutoff),
                # Empty after the purge: idle since the cutoff, and no message that stays.
                conversations=await count(
                    conversations,
                    (conversations.c.updated_at < cutoff)
                    & ~exists().where(
                        messages.c.conversation_id == conversations.c.id,
                        messages.c.created_at >= cutoff,
                    ),
                ),
            )

    async def _delete_batches(self, table: Table, where: Any, batch_size: int) -> int:
        deleted = 0
        while True:
            batch = select(table.c.id).where(where).limit(batch_size)
            async with self._engine.begin() as conn:
                result = await conn.execute(delete(table).where(table.c.id.in_(batch)))
            deleted += result.rowcount
            if result.rowcount < batch_size:
                return deleted

    async def _checkpoint(self) -> None:
        if self._engine.dialect.name != "sqlite":
            return
        # Best effort: a reader holding an old snapshot makes it partial, and the next
        # automatic checkpoint finishes the job.
        with contextlib.suppress(OperationalError):
            async with self._engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _empty_and_idle(cutoff: datetime) -> Any:
    # updated_at guards a conversation just created (or renamed) and not yet written to.
    return (conversations.c.updated_at < cutoff) & ~exists().where(
        messages.c.conversation_id == conversations.c.id
    )
