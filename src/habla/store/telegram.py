"""The Telegram storage protocol: chat state, blocked users, seen updates, account links.

:class:`TelegramStore` is what :mod:`habla.auth.telegram_access` and
:mod:`habla.chat.telegram_chats` drive; the memory store and the SQL store both implement
it and one contract suite (``tests/test_telegram_store.py``) runs over both.

The store keeps rows and their invariants only: an update id is claimed at most once
(whoever claims it first wins, even across processes), a link code is redeemed at most
once and never after it expired, one Telegram account links to at most one habla user.
Link codes reach it only as sha256 hex digests. It does not decide who may talk, nor when
a conversation has gone idle: the services above it do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ChatState:
    """What the bot remembers about one Telegram user in one chat (a private chat, or
    that user inside a group)."""

    chat_id: int
    telegram_id: int
    conversation_id: str | None
    persona: str | None
    model: str | None
    last_active_at: datetime


@dataclass(frozen=True, slots=True)
class TelegramLink:
    telegram_id: int
    user_id: str
    linked_at: datetime


class TelegramStore(Protocol):
    async def claim_update(self, update_id: int, *, at: datetime, forget_before: datetime) -> bool:
        """True the first time ``update_id`` is claimed, False ever after (until it is
        pruned: claims older than ``forget_before`` are deleted on the way)."""
        ...

    async def get_chat(self, chat_id: int, telegram_id: int) -> ChatState | None: ...

    async def save_chat(self, state: ChatState) -> None:
        """Inserts or replaces the state of ``(chat_id, telegram_id)``."""
        ...

    async def set_blocked(self, telegram_id: int, *, at: datetime | None) -> None:
        """``at`` marks the user as having blocked the bot; ``None`` clears the mark."""
        ...

    async def is_blocked(self, telegram_id: int) -> bool: ...

    async def mark_refused(self, telegram_id: int, *, at: datetime) -> bool:
        """Records that this stranger was told no; True only the first time."""
        ...

    async def add_link_code(self, code_hash: str, user_id: str, *, expires_at: datetime) -> None:
        """Raises NotFound for an unknown user, Conflict for a hash already stored."""
        ...

    async def redeem_link_code(
        self, code_hash: str, telegram_id: int, *, at: datetime
    ) -> str | None:
        """Uses the code (once, unexpired) and links ``telegram_id`` to its user, replacing
        any earlier link of that Telegram account. Returns the habla user id, or None when
        the code is unknown, used or expired (nothing changes then)."""
        ...

    async def get_link(self, telegram_id: int) -> TelegramLink | None: ...

    async def remove_link(self, telegram_id: int) -> bool:
        """True when there was a link to remove."""
        ...
