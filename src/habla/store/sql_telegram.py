"""The SQL half of :class:`~habla.store.telegram.TelegramStore`, mixed into ``SqlStore``.

Like :mod:`habla.store.sql_accounts` it needs only ``self._engine``. Claims and
redemptions are decided by the database (a primary key, a conditional UPDATE), so two
processes behind one webhook cannot both handle an update or both use a code.
Upserts are an UPDATE followed by an INSERT when nothing matched, which both SQLite and
PostgreSQL run the same way. This module decides nothing about access.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import ColumnElement, Row, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from habla.core.errors import Conflict, NotFound
from habla.store.schema import (
    telegram_chats,
    telegram_link_codes,
    telegram_links,
    telegram_updates,
    telegram_users,
    users,
)
from habla.store.telegram import ChatState, TelegramLink


class SqlTelegram:
    """Telegram rows over ``self._engine`` (set by the class using this)."""

    _engine: AsyncEngine

    async def claim_update(self, update_id: int, *, at: datetime, forget_before: datetime) -> bool:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    delete(telegram_updates).where(telegram_updates.c.seen_at < forget_before)
                )
                await conn.execute(insert(telegram_updates).values(update_id=update_id, seen_at=at))
        except IntegrityError:
            return False
        return True

    async def get_chat(self, chat_id: int, telegram_id: int) -> ChatState | None:
        query = select(telegram_chats).where(
            telegram_chats.c.chat_id == chat_id, telegram_chats.c.telegram_id == telegram_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _chat(row)

    async def save_chat(self, state: ChatState) -> None:
        values = {
            "conversation_id": state.conversation_id,
            "persona": state.persona,
            "model": state.model,
            "last_active_at": state.last_active_at,
        }
        where = (
            telegram_chats.c.chat_id == state.chat_id,
            telegram_chats.c.telegram_id == state.telegram_id,
        )
        keys = {"chat_id": state.chat_id, "telegram_id": state.telegram_id}
        await _upsert(self._engine, telegram_chats, where, keys, values)

    async def set_blocked(self, telegram_id: int, *, at: datetime | None) -> None:
        where = (telegram_users.c.telegram_id == telegram_id,)
        await _upsert(
            self._engine, telegram_users, where, {"telegram_id": telegram_id}, {"blocked_at": at}
        )

    async def is_blocked(self, telegram_id: int) -> bool:
        query = select(telegram_users.c.blocked_at).where(
            telegram_users.c.telegram_id == telegram_id
        )
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).scalar() is not None

    async def mark_refused(self, telegram_id: int, *, at: datetime) -> bool:
        async with self._engine.begin() as conn:
            changed = await conn.execute(
                update(telegram_users)
                .where(
                    telegram_users.c.telegram_id == telegram_id,
                    telegram_users.c.refused_at.is_(None),
                )
                .values(refused_at=at)
            )
            if changed.rowcount:
                return True
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(telegram_users).values(telegram_id=telegram_id, refused_at=at)
                )
        except IntegrityError:  # the row exists and was refused already
            return False
        return True

    async def add_link_code(self, code_hash: str, user_id: str, *, expires_at: datetime) -> None:
        try:
            async with self._engine.begin() as conn:
                await _require_user(conn, user_id)
                await conn.execute(
                    insert(telegram_link_codes).values(
                        code_hash=code_hash, user_id=user_id, expires_at=expires_at
                    )
                )
        except IntegrityError as exc:
            raise Conflict("that link code exists already") from exc

    async def redeem_link_code(
        self, code_hash: str, telegram_id: int, *, at: datetime
    ) -> str | None:
        codes = telegram_link_codes.c
        async with self._engine.begin() as conn:
            used = await conn.execute(
                update(telegram_link_codes)
                .where(codes.code_hash == code_hash, codes.used_at.is_(None), codes.expires_at > at)
                .values(used_at=at)
            )
            if not used.rowcount:
                return None
            user_id: str = (
                await conn.execute(select(codes.user_id).where(codes.code_hash == code_hash))
            ).scalar_one()
            await conn.execute(
                delete(telegram_links).where(telegram_links.c.telegram_id == telegram_id)
            )
            await conn.execute(
                insert(telegram_links).values(
                    telegram_id=telegram_id, user_id=user_id, linked_at=at
                )
            )
        return user_id

    async def get_link(self, telegram_id: int) -> TelegramLink | None:
        query = select(telegram_links).where(telegram_links.c.telegram_id == telegram_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return TelegramLink(row.telegram_id, row.user_id, row.linked_at)

    async def remove_link(self, telegram_id: int) -> bool:
        async with self._engine.begin() as conn:
            gone = await conn.execute(
                delete(telegram_links).where(telegram_links.c.telegram_id == telegram_id)
            )
        return bool(gone.rowcount)


async def _require_user(conn: AsyncConnection, user_id: str) -> None:
    found = await conn.execute(select(users.c.id).where(users.c.id == user_id))
    if found.first() is None:
        raise NotFound("no such user")


async def _upsert(
    engine: AsyncEngine,
    table: Table,
    where: tuple[ColumnElement[bool], ...],
    keys: Mapping[str, object],
    values: Mapping[str, object],
) -> None:
    for _ in range(2):  # a concurrent insert between our UPDATE and INSERT: update again
        async with engine.begin() as conn:
            changed = await conn.execute(update(table).where(*where).values(**values))
            if changed.rowcount:
                return
        try:
            async with engine.begin() as conn:
                await conn.execute(insert(table).values(**keys, **values))
            return
        except IntegrityError:
            continue


def _chat(row: Row[tuple[object, ...]]) -> ChatState:
    return ChatState(
        chat_id=row.chat_id,
        telegram_id=row.telegram_id,
        conversation_id=row.conversation_id,
        persona=row.persona,
        model=row.model,
        last_active_at=row.last_active_at,
    )
