"""Running the Telegram bot for a test: a real Runtime (SQLite under tmp_path) and the
bot long-polling a :class:`~fakes.telegram_server.FakeTelegram` on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fakes.telegram_server import TOKEN, FakeTelegram
from habla.interfaces.telegram.app import RunningBot, running_bot
from habla.runtime import Runtime
from habla.settings import Settings

POLL_SECONDS = 1.0


def bot_settings(
    make_settings: Callable[..., Settings], fake: FakeTelegram, script: Path, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "default_model": "scripted:t",
        "scripted_file": script,
        "telegram_token": TOKEN,
        "telegram_api_url": fake.url,
        "telegram_allowed": ["7", "@bea_tg"],
        "telegram_edit_interval": 0.0,
        "user_requests_per_minute": 1000,
        **overrides,
    }
    return make_settings(**values)


@asynccontextmanager
async def polling(settings: Settings) -> AsyncIterator[tuple[Runtime, RunningBot]]:
    async with (
        Runtime.open(settings) as runtime,
        running_bot(runtime, polling=True, poll_timeout=POLL_SECONDS) as bot,
    ):
        yield runtime, bot
