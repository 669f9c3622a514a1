"""The Telegram channel's update handler: one update in, the engine's answer out.

:meth:`TelegramBot.on_update` is what python-telegram-bot calls, in polling and in
webhook mode alike. For each update it: skips it if its ``update_id`` was handled
already; reads it (groups: only when addressed); asks
:class:`~habla.auth.telegram_access.TelegramAccess` who the sender is — a stranger gets
one polite refusal and nothing else (no model, no history, an audit row); runs a command,
or a turn through :class:`~habla.chat.service.ChatService` (same persona, history,
guards, limits and audit as every channel), streaming the reply by editing a message.

Every failure becomes a short sentence in the user's language (:mod:`.texts`), never a
stack trace; a user who blocked the bot is marked and not written to again.
"""

from __future__ import annotations

import html
import logging

from telegram import Message as TgMessage
from telegram import Update, User
from telegram.error import TelegramError

from habla.chat.service import PreparedTurn
from habla.chat.turns import TurnInput
from habla.core.errors import (
    BackendUnavailable,
    ContextLengthExceeded,
    GuardBlocked,
    HablaError,
    InputTooLarge,
    NotFound,
    QuotaExceeded,
    RateLimited,
    UnknownModel,
    UnsupportedFeature,
)
from habla.core.events import Finished, TextDelta
from habla.core.identity import Principal
from habla.core.messages import Image, Message, Part, Text
from habla.interfaces.telegram.commands import Commands
from habla.interfaces.telegram.incoming import Incoming, read
from habla.interfaces.telegram.sender import ChatUnreachable, Sender
from habla.interfaces.telegram.streaming import StreamingReply
from habla.interfaces.telegram.texts import Texts, texts_for
from habla.runtime import Runtime
from habla.runtime.telegram import TelegramServices

log = logging.getLogger(__name__)

MAX_PHOTO_BYTES = 5 * 1024 * 1024


class TelegramBot:
    def __init__(
        self,
        runtime: Runtime,
        services: TelegramServices,
        sender: Sender,
        *,
        edit_interval: float,
    ) -> None:
        self._runtime = runtime
        self._access = services.access
        self._chats = services.chats
        self._sender = sender
        self._edit_interval = edit_interval
        self._commands = Commands(runtime, services, self._say)

    async def on_update(self, update: object, context: object = None) -> None:
        """Never raises: one bad update must not stop the others."""
        if not isinstance(update, Update):
            return
        try:
            await self._handle(update)
        except ChatUnreachable as exc:
            log.info("telegram update %s: reply not delivered (%s)", update.update_id, exc)
            user = update.effective_user
            if exc.blocked and user is not None:
                await self._chats.mark_blocked(user.id, True)
        except Exception:
            log.exception("telegram update %s failed", update.update_id)

    async def _handle(self, update: Update) -> None:
        message = update.message
        if message is None:
            return  # edits, channel posts, callbacks...: not conversations
        incoming = read(message, self._me)
        if incoming is None:
            return
        if not await self._chats.first_time(update.update_id):
            log.info("telegram update %s seen before; skipped", update.update_id)
            return
        texts = texts_for(incoming.language)
        telegram_id = incoming.who.telegram_id
        if await self._chats.blocked(telegram_id):
            await self._chats.mark_blocked(telegram_id, False)  # they wrote: unblocked
        try:
            principal = await self._access.principal_for(incoming.who)
        except BackendUnavailable:  # e.g. LDAP down: nobody gets in on an unmade check
            await self._say(incoming, texts.busy)
            return
        if incoming.command == "link":
            await self._commands.link(incoming, texts)
        elif principal is None:
            if await self._access.refused(incoming.who, "not on the allowlist nor linked"):
                await self._say(incoming, texts.refused)
        elif incoming.command is not None:
            await self._commands.run(incoming, principal, texts)
        elif incoming.unsupported:
            await self._say(incoming, texts.unsupported)
        else:
            await self._turn(incoming, message, principal, texts)

    @property
    def _default(self) -> str:
        return self._runtime.models.default_id

    @property
    def _me(self) -> User:
        return self._sender.bot.bot

    async def _say(self, incoming: Incoming, text: str) -> None:
        reply_to = None if incoming.private else incoming.message_id
        await self._sender.send(
            incoming.chat_id, html.escape(text, quote=False), text, reply_to=reply_to
        )

    # -- a conversation turn -------------------------------------------------------------

    async def _turn(
        self, incoming: Incoming, message: TgMessage, principal: Principal, texts: Texts
    ) -> None:
        state = await self._chats.current(incoming.chat_id, incoming.who.telegram_id)
        parts: list[Part] = []
        if incoming.has_photo:
            model_id = state.model or self._default
            try:
                vision = self._runtime.models.resolve(model_id).capabilities.vision
            except UnknownModel:
                vision = False
            if not vision:
                await self._say(incoming, texts.no_images.format(model=model_id))
                return
            image = await self._photo(message)
            if image is None:
                await self._say(incoming, texts.photo_failed)
                return
            parts.append(image)
        if incoming.text:
            parts.append(Text(incoming.text))
        turn = TurnInput(
            principal=principal,
            messages=(Message("user", tuple(parts)),),
            conversation_id=state.conversation_id,
            persona=state.persona,
            model=state.model,
            origin="telegram",
        )
        try:
            prepared = await self._prepare(turn)
        except HablaError as exc:
            await self._say(incoming, friendly(exc, texts, turn.model or self._default))
            return
        await self._chats.save(state, conversation_id=prepared.conversation_id)
        await self._sender.typing(incoming.chat_id)
        await self._stream(incoming, prepared, texts)

    async def _prepare(self, turn: TurnInput) -> PreparedTurn:
        try:
            return await self._runtime.chat.prepare(turn)
        except NotFound:
            if turn.conversation_id is None:
                raise
            # The conversation was deleted (or belongs to the account this Telegram user
            # was linked to before): start a new one rather than fail every message.
            fresh = TurnInput(
                principal=turn.principal,
                messages=turn.messages,
                persona=turn.persona,
                model=turn.model,
                origin=turn.origin,
            )
            return await self._runtime.chat.prepare(fresh)

    async def _stream(self, incoming: Incoming, prepared: PreparedTurn, texts: Texts) -> None:
        reply = StreamingReply(
            self._sender,
            incoming.chat_id,
            interval=self._edit_interval,
            reply_to=None if incoming.private else incoming.message_id,
        )
        note: str | None = None
        events = prepared.stream()
        try:
            async for event in events:
                if isinstance(event, TextDelta):
                    await reply.add(event.text)
                elif isinstance(event, Finished) and event.finish_reason == "length":
                    note = texts.cut_short
        except HablaError as exc:
            note = friendly(exc, texts, prepared.model_id)
        finally:
            # Closed here, not by the garbage collector: a reply that could not be
            # delivered (blocked, flood control) must stop generating and settle now.
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
        if reply.text.strip():
            await reply.finish(fallback=texts.empty, note=note)
        else:
            await reply.finish(fallback=note or texts.empty)

    async def _photo(self, message: TgMessage) -> Image | None:
        sizes = [p for p in message.photo if (p.file_size or 0) <= MAX_PHOTO_BYTES]
        if not sizes:
            return None
        try:
            file = await sizes[-1].get_file()
            data = await file.download_as_bytearray()
        except TelegramError as exc:
            log.info("could not fetch a photo: %s", type(exc).__name__)
            return None
        if len(data) > MAX_PHOTO_BYTES:
            return None
        return Image(bytes(data), "image/jpeg")  # Telegram re-encodes every photo as JPEG


def friendly(exc: HablaError, texts: Texts, model: str) -> str:
    """What a user reads for an engine error."""
    if isinstance(exc, RateLimited | QuotaExceeded):
        return texts.limited.format(when=texts.wait(exc.retry_after))
    if isinstance(exc, BackendUnavailable):
        return texts.busy
    if isinstance(exc, InputTooLarge | ContextLengthExceeded):
        return texts.too_long
    if isinstance(exc, UnsupportedFeature):
        return texts.no_images.format(model=model)
    if isinstance(exc, GuardBlocked):
        return texts.blocked_by_guard
    log.info("telegram turn failed: %s", exc.code)
    return texts.failed
