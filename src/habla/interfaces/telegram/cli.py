"""``habla telegram`` (long polling), ``habla telegram set-webhook URL`` and
``habla telegram delete-webhook``.

This module imports python-telegram-bot only once a command runs, so ``habla --help``
works without the extra; without it the command fails with the ``pip install`` hint.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from urllib.parse import urlsplit

from habla.core.errors import ConfigError
from habla.interfaces.telegram import require_telegram
from habla.settings import Settings

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    telegram = sub.add_parser(
        "telegram", help="run the Telegram bot (long polling), or manage its webhook"
    )
    actions = telegram.add_subparsers(dest="telegram_action", metavar="ACTION")
    hook = actions.add_parser(
        "set-webhook", help="register URL (https, ending in /telegram/webhook) with Telegram"
    )
    hook.add_argument("url")
    actions.add_parser("delete-webhook", help="stop webhook delivery (to poll again)")


def run_telegram(settings: Settings, args: argparse.Namespace) -> int:
    require_telegram()
    if settings.telegram_token is None:  # before loading any model
        raise ConfigError("set the bot token from BotFather in HABLA_TELEGRAM_TOKEN")
    if args.telegram_action == "set-webhook":
        return asyncio.run(set_webhook(settings, args.url))
    if args.telegram_action == "delete-webhook":
        return asyncio.run(delete_webhook(settings))
    return asyncio.run(poll(settings))


async def poll(settings: Settings, stop: asyncio.Event | None = None) -> int:
    from habla.interfaces.telegram.app import running_bot
    from habla.runtime import Runtime

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    async with Runtime.open(settings) as runtime, running_bot(runtime, polling=True) as bot:
        print(f"habla: Telegram bot @{bot.username} is polling; Ctrl-C stops it", flush=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    return 0


def check_webhook_url(url: str) -> str:
    parts = urlsplit(url)
    local = parts.hostname in _LOOPBACK
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ConfigError("Telegram only delivers webhooks to https:// URLs")
    if not parts.hostname or parts.query or parts.fragment:
        raise ConfigError("the webhook URL needs a host, and no query or fragment")
    return url


async def set_webhook(settings: Settings, url: str) -> int:
    from habla.interfaces.telegram.app import ALLOWED_UPDATES, bot_client

    check_webhook_url(url)
    if settings.telegram_webhook_secret is None:
        raise ConfigError("set HABLA_TELEGRAM_WEBHOOK_SECRET first (the API checks it)")
    async with bot_client(settings) as bot:
        await bot.set_webhook(
            url,
            secret_token=settings.telegram_webhook_secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
        )
    print(f"habla: Telegram will deliver updates to {url}")
    return 0


async def delete_webhook(settings: Settings) -> int:
    from habla.interfaces.telegram.app import bot_client

    async with bot_client(settings) as bot:
        await bot.delete_webhook()
    print("habla: webhook removed; `habla telegram` can poll now")
    return 0
