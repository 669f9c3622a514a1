"""The in-memory half of :class:`~habla.store.telegram.TelegramStore`, mixed into
``MemoryStore``; for tests and throwaway runs. Same rules as the SQL one, one process."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from habla.core.errors import Conflict, NotFound
from habla.store.telegram import ChatState, TelegramLink


@dataclass
class _Code:
    user_id: str
    expires_at: datetime
    used_at: datetime | None = None


@dataclass
class _TelegramRows:
    updates: dict[int, datetime] = field(default_factory=dict)
    chats: dict[tuple[int, int], ChatState] = field(default_factory=dict)
    blocked: dict[int, datetime] = field(default_factory=dict)
    refused: dict[int, datetime] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    links: dict[int, TelegramLink] = field(default_factory=dict)


class MemoryTelegram:
    """Needs ``_user_exists`` from the class it is mixed into."""

    _telegram_rows: _TelegramRows | None = None

    @property
    def _tg(self) -> _TelegramRows:
        if self._telegram_rows is None:
            self._telegram_rows = _TelegramRows()
        return self._telegram_rows

    if TYPE_CHECKING:  # provided by MemoryStore, the class this is mixed into

        def _user_exists(self, user_id: str) -> bool: ...

    async def claim_update(self, update_id: int, *, at: datetime, forget_before: datetime) -> bool:
        updates = self._tg.updates
        for old in [u for u, seen in updates.items() if seen < forget_before]:
            del updates[old]
        if update_id in updates:
            return False
        updates[update_id] = at
        return True

    async def get_chat(self, chat_id: int, telegram_id: int) -> ChatState | None:
        return self._tg.chats.get((chat_id, telegram_id))

    async def save_chat(self, state: ChatState) -> None:
        self._tg.chats[(state.chat_id, state.telegram_id)] = state

    async def set_blocked(self, telegram_id: int, *, at: datetime | None) -> None:
        if at is None:
            self._tg.blocked.pop(telegram_id, None)
        else:
            self._tg.blocked[telegram_id] = at

    async def is_blocked(self, telegram_id: int) -> bool:
        return telegram_id in self._tg.blocked

    async def mark_refused(self, telegram_id: int, *, at: datetime) -> bool:
        if telegram_id in self._tg.refused:
            return False
        self._tg.refused[telegram_id] = at
        return True

    async def add_link_code(self, code_hash: str, user_id: str, *, expires_at: datetime) -> None:
        if not self._user_exists(user_id):
            raise NotFound("no such user")
        if code_hash in self._tg.codes:
            raise Conflict("that link code exists already")
        self._tg.codes[code_hash] = _Code(user_id, expires_at)

    async def redeem_link_code(
        self, code_hash: str, telegram_id: int, *, at: datetime
    ) -> str | None:
        code = self._tg.codes.get(code_hash)
        if code is None or code.used_at is not None or code.expires_at <= at:
            return None
        if not self._user_exists(code.user_id):  # the user was deleted (SQL cascades)
            return None
        code.used_at = at
        self._tg.links[telegram_id] = TelegramLink(telegram_id, code.user_id, at)
        return code.user_id

    async def get_link(self, telegram_id: int) -> TelegramLink | None:
        link = self._tg.links.get(telegram_id)
        if link is not None and not self._user_exists(link.user_id):
            return None
        return link

    async def remove_link(self, telegram_id: int) -> bool:
        return self._tg.links.pop(telegram_id, None) is not None
