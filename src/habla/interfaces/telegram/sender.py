"""Calling the Bot API the way Telegram asks to be called.

:class:`Sender` wraps ``telegram.Bot`` for the three calls a reply needs and applies
Telegram's rules in one place:

* **429** (``RetryAfter``): wait what Telegram says and retry the *same* call, up to
  ``max_attempts`` times and never longer than ``max_wait`` seconds in one go;
* **403** (``Forbidden``: the user blocked the bot, or it left the group): raise
  :class:`ChatUnreachable` at once — the caller marks the user and stops; never retried;
* **400 parse error**: send the same text again as plain text, without formatting;
  "message is not modified" on an edit is success;
* network errors: retried like a 429 with a short pause, then :class:`ChatUnreachable`.

Nothing here knows about conversations or who may talk.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from telegram import Bot, ReplyParameters
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

log = logging.getLogger(__name__)
T = TypeVar("T")

_PARSE_ERRORS = ("can't parse entities", "can't find end", "unsupported start tag", "parse")
NETWORK_PAUSE = 1.0


class ChatUnreachable(Exception):
    """The message cannot be delivered: blocked (``blocked`` True) or Telegram unreachable."""

    def __init__(self, reason: str, *, blocked: bool) -> None:
        super().__init__(reason)
        self.blocked = blocked


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB is moving retry_after from int to timedelta
        warnings.simplefilter("ignore")
        value: object = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value) if isinstance(value, int | float) else 1.0


class Sender:
    def __init__(self, bot: Bot, *, max_attempts: int = 4, max_wait: float = 60.0) -> None:
        self.bot = bot
        self._max_attempts = max_attempts
        self._max_wait = max_wait

    async def send(
        self, chat_id: int, html: str, plain: str, *, reply_to: int | None = None
    ) -> int:
        """Sends ``html`` (falling back to ``plain``); returns the new message's id."""
        reply = (
            None
            if reply_to is None
            else ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
        )

        async def formatted() -> int:
            sent = await self.bot.send_message(
                chat_id, html, parse_mode=ParseMode.HTML, reply_parameters=reply
            )
            return sent.message_id

        async def unformatted() -> int:
            sent = await self.bot.send_message(chat_id, plain, reply_parameters=reply)
            return sent.message_id

        return await self._with_fallback(formatted, unformatted)

    async def edit(self, chat_id: int, message_id: int, html: str, plain: str) -> None:
        async def formatted() -> None:
            await self.bot.edit_message_text(
                html, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML
            )

        async def unformatted() -> None:
            await self.bot.edit_message_text(plain, chat_id=chat_id, message_id=message_id)

        try:
            await self._with_fallback(formatted, unformatted)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise

    async def typing(self, chat_id: int) -> None:
        """Best effort: a lost "typing…" is not worth failing a reply over."""
        try:
            await self._call(lambda: self.bot.send_chat_action(chat_id, ChatAction.TYPING))
        except BadRequest:
            log.info("could not show typing in chat %s", chat_id)

    async def _with_fallback(
        self, formatted: Callable[[], Awaitable[T]], plain: Callable[[], Awaitable[T]]
    ) -> T:
        try:
            return await self._call(formatted)
        except BadRequest as exc:
            if not any(marker in exc.message.lower() for marker in _PARSE_ERRORS):
                raise
            log.info("Telegram rejected the formatting (%s); sending plain text", exc.message)
            return await self._call(plain)

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(1, self._max_attempts + 1):
            try:
                return await call()
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                if wait > self._max_wait or attempt == self._max_attempts:
                    raise ChatUnreachable(
                        f"flood control: retry after {wait:g} s", blocked=False
                    ) from exc
                log.info("Telegram asked to wait %.1f s (attempt %d)", wait, attempt)
                await asyncio.sleep(wait)
            except Forbidden as exc:
                raise ChatUnreachable("the bot was blocked or removed", blocked=True) from exc
            except BadRequest:
                raise
            except (TimedOut, NetworkError) as exc:
                if attempt == self._max_attempts:
                    raise ChatUnreachable(f"network: {type(exc).__name__}", blocked=False) from exc
                await asyncio.sleep(NETWORK_PAUSE * attempt)
        raise AssertionError("unreachable")  # the loop returns or raises
