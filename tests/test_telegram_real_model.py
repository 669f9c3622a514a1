"""A real answer from the embedded model (SmolLM2 through llama.cpp) over the Telegram
channel: the bot long-polls the fake Bot API, the engine runs the real local model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from fakes.telegram_server import TOKEN, FakeTelegram
from habla.settings import Settings
from telegram_harness import polling


async def test_the_embedded_model_answers_on_telegram(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    with FakeTelegram() as fake:
        settings = make_settings(
            default_model="llamacpp:smollm2",
            default_max_tokens=24,
            telegram_token=TOKEN,
            telegram_api_url=fake.url,
            telegram_allowed=["7"],
            telegram_edit_interval=0.5,
        )
        async with polling(settings) as (runtime, _):
            await runtime.models.get(None)  # loaded before the message, not during it
            fake.user_message("What is the capital of France?", user_id=7)
            await fake.wait_for(lambda: fake.texts(7), timeout=120)
            # Wait for the last edit: the stored reply is complete and matches the chat.
            [conversation] = await runtime.chat.list_conversations("tg:7")
            for _ in range(600):
                _, messages = await runtime.chat.conversation(conversation.id, "tg:7")
                if messages[-1].status == "complete":
                    break
                await asyncio.sleep(0.05)
            reply = messages[-1].message.text.strip()
            expected = ([reply], [reply + "\n\n(the answer was cut short)"])
            await fake.wait_for(lambda: fake.texts(7) in expected)
    assert messages[-1].model == "llamacpp:smollm2"
    assert len(reply.split()) >= 2
