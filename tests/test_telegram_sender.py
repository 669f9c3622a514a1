"""The Sender's Telegram rules against the fake Bot API: long flood waits give up at
once, 403 is never retried, an unchanged edit is fine, other 400s are not retried."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import BadRequest

from fakes.telegram_server import TOKEN, FakeTelegram
from habla.interfaces.telegram.sender import ChatUnreachable, Sender


@pytest.fixture
async def fake_and_sender() -> AsyncIterator[tuple[FakeTelegram, Sender]]:
    with FakeTelegram() as fake:
        bot = Bot(TOKEN, base_url=f"{fake.url}/bot")
        async with bot:
            yield fake, Sender(bot, max_wait=60)


async def test_a_flood_wait_longer_than_allowed_gives_up_without_waiting(
    fake_and_sender: tuple[FakeTelegram, Sender],
) -> None:
    fake, sender = fake_and_sender
    fake.fail_next("sendMessage", 429, retry_after=3600)
    with pytest.raises(ChatUnreachable) as failed:
        await sender.send(7, "hi", "hi")
    assert not failed.value.blocked
    assert len(fake.calls("sendMessage")) == 1


async def test_forbidden_is_reported_as_blocked_and_not_retried(
    fake_and_sender: tuple[FakeTelegram, Sender],
) -> None:
    fake, sender = fake_and_sender
    fake.fail_next("editMessageText", 403)
    message_id = await sender.send(7, "one", "one")
    with pytest.raises(ChatUnreachable) as failed:
        await sender.edit(7, message_id, "two", "two")
    assert failed.value.blocked
    assert len(fake.calls("editMessageText")) == 1
    assert fake.texts(7) == ["one"]


async def test_an_unchanged_edit_is_success_and_other_bad_requests_surface(
    fake_and_sender: tuple[FakeTelegram, Sender],
) -> None:
    fake, sender = fake_and_sender
    message_id = await sender.send(7, "<b>same</b>", "same")
    await sender.edit(7, message_id, "<b>same</b>", "same")  # Telegram: "not modified"
    with pytest.raises(BadRequest, match="too long"):
        await sender.send(7, "x" * 5000, "x" * 5000)
    assert len(fake.calls("sendMessage")) == 2  # the too-long text was not sent plain too


async def test_typing_is_best_effort(fake_and_sender: tuple[FakeTelegram, Sender]) -> None:
    fake, sender = fake_and_sender
    fake.fail_next("sendChatAction", 400, "Bad Request: chat not found")
    await sender.typing(7)
    assert len(fake.calls("sendChatAction")) == 1
