"""Running the bot: the python-telegram-bot ``Application``, in polling or webhook mode.

:func:`running_bot` builds the application against the configured Bot API URL (Telegram's,
a company's own Bot API server, or a test fake), checks the token with ``getMe``, wires
:class:`~.bot.TelegramBot` as the only handler and, for polling, starts the updater. The
token is kept out of the logs: httpx logs every request URL at INFO, and Bot API URLs
contain the token, so those records are redacted while the bot runs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from telegram import Bot, Update
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder, TypeHandler

from habla.core.errors import BackendUnavailable, ConfigError
from habla.interfaces.telegram.bot import TelegramBot
from habla.interfaces.telegram.ordering import PerChatOrder
from habla.interfaces.telegram.sender import Sender
from habla.runtime import Runtime
from habla.runtime.telegram import build_telegram
from habla.settings import Settings

log = logging.getLogger(__name__)

CONCURRENT_UPDATES = 32
ALLOWED_UPDATES = ["message"]
# httpx logs request URLs at INFO; PTB logs its base URLs at DEBUG when a bot is built.
_REDACTED_LOGGERS = ("httpx", "httpcore", "telegram.Bot", "telegram.ext.ExtBot")


@dataclass(frozen=True)
class RunningBot:
    application: Application  # type: ignore[type-arg]
    bot: TelegramBot

    @property
    def username(self) -> str:
        return str(self.application.bot.username)


class TokenRedactor(logging.Filter):
    """Replaces the bot token in log records (it appears in every Bot API URL)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._token in message:
            record.msg = message.replace(self._token, "<token>")
            record.args = ()
        return True


def token_of(settings: Settings) -> str:
    if settings.telegram_token is None or not settings.telegram_token.get_secret_value():
        raise ConfigError("set the bot token from BotFather in HABLA_TELEGRAM_TOKEN")
    return settings.telegram_token.get_secret_value()


def build_application(settings: Settings, *, polling: bool) -> Application:  # type: ignore[type-arg]
    api = settings.telegram_api_url
    builder = (
        ApplicationBuilder()
        .token(token_of(settings))
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .concurrent_updates(PerChatOrder(CONCURRENT_UPDATES))
    )
    if not polling:
        builder = builder.updater(None)
    return builder.build()


@asynccontextmanager
async def redacted(token: str) -> AsyncIterator[None]:
    redactor = TokenRedactor(token)
    loggers = [logging.getLogger(name) for name in _REDACTED_LOGGERS]
    for logger in loggers:
        logger.addFilter(redactor)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(redactor)


@asynccontextmanager
async def running_bot(
    runtime: Runtime, *, polling: bool, poll_timeout: float = 30.0
) -> AsyncIterator[RunningBot]:
    settings = runtime.settings
    async with redacted(token_of(settings)):
        application = build_application(settings, polling=polling)
        await initialize_checked(application)
        try:
            bot = TelegramBot(
                runtime,
                build_telegram(runtime),
                Sender(application.bot),
                edit_interval=settings.telegram_edit_interval,
            )
            application.add_handler(TypeHandler(Update, bot.on_update))
            await application.start()
            try:
                if polling:
                    assert application.updater is not None
                    await application.updater.start_polling(
                        timeout=int(poll_timeout), allowed_updates=ALLOWED_UPDATES
                    )
                log.info(
                    "telegram bot @%s %s",
                    application.bot.username,
                    "polling" if polling else "on webhook",
                )
                yield RunningBot(application, bot)
            finally:
                if application.updater is not None and application.updater.running:
                    await application.updater.stop()
                await application.stop()
        finally:
            await application.shutdown()


async def initialize_checked(application: Application) -> None:  # type: ignore[type-arg]
    """``initialize`` (it calls getMe, which checks the token), with errors translated. On
    failure the HTTP clients it opened are closed here: PTB's own shutdown skips a bot
    that never finished initializing."""
    try:
        await application.initialize()
    except TelegramError as exc:
        await application.bot.shutdown()
        raise _translated(exc) from None  # PTB's InvalidToken message quotes the token
    except BaseException:
        await application.bot.shutdown()
        raise


def _translated(exc: TelegramError) -> Exception:
    if isinstance(exc, InvalidToken):
        return ConfigError("Telegram refused the bot token (check HABLA_TELEGRAM_TOKEN)")
    if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):
        return BackendUnavailable(f"cannot reach the Telegram Bot API: {type(exc).__name__}")
    return ConfigError("the Telegram Bot API refused to start the bot")


@asynccontextmanager
async def bot_client(settings: Settings) -> AsyncIterator[Bot]:
    """A started ``Bot`` for one-off calls (set or delete the webhook)."""
    async with redacted(token_of(settings)):
        application = build_application(settings, polling=False)
        await initialize_checked(application)
        try:
            yield application.bot
        except TelegramError as exc:
            raise ConfigError(f"the Telegram Bot API refused: {exc.message}") from exc
        finally:
            await application.shutdown()
