"""Per-chat state for the Telegram bot, kept by the engine: current conversation, persona
and model choices, idle expiry, "this user blocked the bot", and update de-duplication.

:class:`TelegramChats` sits over a :class:`~habla.store.telegram.TelegramStore`. A chat
that has been quiet longer than ``idle_seconds`` starts a new conversation on its next
message (the old one stays in the user's history); the persona and model chosen with
``/persona`` and ``/model`` stay. Update ids are remembered for ``dedupe_seconds`` —
Telegram keeps undelivered updates for 24 hours, so that is the default.

This module knows nothing about the Telegram API, who may talk (see
:mod:`habla.auth.telegram_access`) or how replies are made (:class:`ChatService`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from habla.auth.tokens import Clock, utc_now
from habla.store.telegram import ChatState, TelegramStore

DEFAULT_IDLE_SECONDS = 3600.0
DEDUPE_SECONDS = 24 * 3600.0


class TelegramChats:
    def __init__(
        self,
        store: TelegramStore,
        *,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        dedupe_seconds: float = DEDUPE_SECONDS,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._idle = timedelta(seconds=idle_seconds)
        self._dedupe = timedelta(seconds=dedupe_seconds)
        self._clock = clock

    async def first_time(self, update_id: int) -> bool:
        """True once per update id: the caller handles it; False means a duplicate."""
        now = self._clock()
        return await self._store.claim_update(update_id, at=now, forget_before=now - self._dedupe)

    async def current(self, chat_id: int, telegram_id: int) -> ChatState:
        """The state to answer with now: without a conversation when it went idle."""
        now = self._clock()
        state = await self._store.get_chat(chat_id, telegram_id)
        if state is None:
            return ChatState(chat_id, telegram_id, None, None, None, now)
        if state.conversation_id is not None and now - state.last_active_at > self._idle:
            return replace(state, conversation_id=None)
        return state

    async def save(self, state: ChatState, *, conversation_id: str | None) -> ChatState:
        updated = replace(state, conversation_id=conversation_id, last_active_at=self._clock())
        await self._store.save_chat(updated)
        return updated

    async def new_conversation(self, chat_id: int, telegram_id: int) -> None:
        state = await self.current(chat_id, telegram_id)
        await self.save(state, conversation_id=None)

    async def choose(
        self,
        chat_id: int,
        telegram_id: int,
        *,
        persona: str | None = None,
        model: str | None = None,
    ) -> None:
        """Remembers a persona or model for the following turns of this chat."""
        state = await self.current(chat_id, telegram_id)
        state = replace(
            state,
            persona=persona if persona is not None else state.persona,
            model=model if model is not None else state.model,
        )
        await self.save(state, conversation_id=state.conversation_id)

    async def blocked(self, telegram_id: int) -> bool:
        return await self._store.is_blocked(telegram_id)

    async def mark_blocked(self, telegram_id: int, blocked: bool) -> None:
        await self._store.set_blocked(telegram_id, at=self._clock() if blocked else None)
