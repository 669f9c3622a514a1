"""The Telegram bot end to end (REL-TG): python-telegram-bot long-polling a fake Bot API on
127.0.0.1, the real engine behind it (SQLite, the scripted backend, real limits)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fakes.telegram_server import BOT_USERNAME, FakeTelegram
from habla.runtime import Runtime
from habla.runtime.telegram import build_telegram
from habla.settings import Settings
from scripted_record import received
from telegram_harness import bot_settings, polling

REPLY = "Hello there, I am the scripted bot and I answer in several words."


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def record(tmp_path: Path) -> Path:
    return tmp_path / "received.jsonl"


@pytest.fixture
def settings_for(
    make_settings: Callable[..., Settings],
    write_script: Callable[..., Path],
    fake: FakeTelegram,
    record: Path,
) -> Callable[..., Settings]:
    def build(replies: list[Any] | None = None, **overrides: Any) -> Settings:
        script = write_script(replies or [REPLY])
        return bot_settings(make_settings, fake, script, scripted_record_path=record, **overrides)

    return build


async def conversations(runtime: Runtime, user_id: str) -> list[Any]:
    return await runtime.chat.list_conversations(user_id)


async def test_an_allowed_user_gets_a_streamed_reply_kept_in_history(
    fake: FakeTelegram, settings_for: Callable[..., Settings]
) -> None:
    # Output guards hold the last 64 characters back until the reply ends (docs/privacy.md),
    # so a reply this short would arrive whole; this test is about the edits.
    async with polling(settings_for(output_guards=False)) as (runtime, _):
        fake.user_message("hi bot", user_id=7)
        assert await fake.wait_for(lambda: fake.texts(7) == [REPLY])
        # Streamed: sent once, then edited as words arrived.
        assert len(fake.calls("sendMessage")) == 1
        assert len(fake.calls("editMessageText")) >= 2
        assert fake.calls("sendChatAction")[0]["action"] == "typing"
        fake.user_message("and again", user_id=7)
        await fake.wait_for(lambda: fake.texts(7) == [REPLY, REPLY])
        [conversation] = await conversations(runtime, "tg:7")

        async def stored() -> list[str]:
            _, messages = await runtime.chat.conversation(conversation.id, "tg:7")
            return [m.message.text for m in messages if m.status == "complete"]

        for _ in range(100):  # the reply is saved just after its last words went out
            if len(await stored()) == 4:
                break
            await asyncio.sleep(0.05)
        assert await stored() == ["hi bot", REPLY, "and again", REPLY]


async def test_a_stranger_is_refused_once_audited_and_nothing_reaches_the_model(
    fake: FakeTelegram, settings_for: Callable[..., Settings], record: Path
) -> None:
    async with polling(settings_for()) as (runtime, _):
        fake.user_message("let me in", user_id=99, username="mallory")
        await fake.wait_for(lambda: fake.texts(99))
        fake.user_message("please?", user_id=99, username="mallory")
        fake.user_message("hi", user_id=7)  # processed after the stranger's second message
        await fake.wait_for(lambda: fake.texts(7))
        await asyncio.sleep(0.3)
        assert fake.texts(99) == [
            "Sorry, this assistant is private. If you have an account, ask an administrator "
            "for a link code and send /link CODE."
        ]
        assert all("let me in" not in json.dumps(r) for r in received(record))
        assert await conversations(runtime, "tg:99") == []
        audit = await runtime.accounts.audit_tail(None, 20)
        refused = [row for row in audit if row.action == "telegram.refused"]
        assert refused
        assert refused[0].target == "tg:99/@mallory"
        assert "let me in" not in refused[0].detail


async def test_linking_a_telegram_account_with_a_one_time_code(
    fake: FakeTelegram, settings_for: Callable[..., Settings]
) -> None:
    async with polling(settings_for()) as (runtime, _):
        carla = await runtime.accounts.create_user(None, "carla", "user")
        code = await build_telegram(runtime).access.create_link_code(None, "carla")
        fake.user_message("/link WRONG-CODE-0000", user_id=55, username=None)
        await fake.wait_for(lambda: fake.texts(55))
        fake.user_message(f"/link {code}", user_id=55, username=None)
        await fake.wait_for(lambda: len(fake.texts(55)) == 2)
        fake.user_message("hello as carla", user_id=55, username=None)
        await fake.wait_for(lambda: len(fake.texts(55)) == 3)
        fake.user_message(f"/link {code}", user_id=56, username=None)  # single use
        await fake.wait_for(lambda: fake.texts(56))
    assert fake.texts(55)[0].startswith("That code is wrong, used or expired")
    assert fake.texts(55)[1] == "Linked to the habla account carla. Welcome!"
    assert fake.texts(55)[2] == REPLY
    assert fake.texts(56)[0].startswith("That code is wrong, used or expired")
    [conversation] = await _conversations_after(settings_for, carla.id)
    assert conversation.title == "hello as carla"


async def _conversations_after(settings_for: Callable[..., Settings], user_id: str) -> list[Any]:
    async with Runtime.open(settings_for(), load_models=False) as runtime:
        return await conversations(runtime, user_id)


async def test_an_idle_chat_starts_a_new_conversation(
    fake: FakeTelegram, settings_for: Callable[..., Settings]
) -> None:
    async with polling(settings_for(telegram_idle_minutes=0.002)) as (runtime, _):
        fake.user_message("first", user_id=7)
        await fake.wait_for(lambda: fake.texts(7))
        await asyncio.sleep(0.5)  # longer than the 0.12 s idle time
        fake.user_message("second", user_id=7)
        await fake.wait_for(lambda: len(fake.texts(7)) == 2)
        titles = sorted(c.title for c in await conversations(runtime, "tg:7"))
    assert titles == ["first", "second"]


async def test_new_starts_a_new_conversation(
    fake: FakeTelegram, settings_for: Callable[..., Settings]
) -> None:
    async with polling(settings_for()) as (runtime, _):
        fake.user_message("one", user_id=7)
        await fake.wait_for(lambda: fake.texts(7))
        fake.user_message("/new", user_id=7)
        await fake.wait_for(lambda: len(fake.texts(7)) == 2)
        fake.user_message("two", user_id=7)
        await fake.wait_for(lambda: len(fake.texts(7)) == 3)
        assert fake.texts(7)[1] == "Started a new conversation."
        assert len(await conversations(runtime, "tg:7")) == 2


async def test_a_limited_user_is_told_when_the_limit_resets(
    fake: FakeTelegram, settings_for: Callable[..., Settings], record: Path
) -> None:
    async with polling(settings_for(user_requests_per_minute=1)):
        fake.user_message("one", user_id=7)
        await fake.wait_for(lambda: fake.texts(7))
        fake.user_message("two", user_id=7)
        await fake.wait_for(lambda: len(fake.texts(7)) == 2)
    limited = fake.texts(7)[1]
    assert limited.startswith("You have reached your limit. It resets in ")
    assert limited.endswith(("seconds.", "second.", "minute."))
    assert len(received(record)) == 1


async def test_a_long_reply_is_split_into_messages_telegram_accepts(
    fake: FakeTelegram, settings_for: Callable[..., Settings]
) -> None:
    paragraph = ("word " * 199 + "end.").strip()  # ~1000 characters
    reply = "\n\n".join([paragraph] * 7)  # ~7000 characters
    async with polling(settings_for([reply], default_max_tokens=2000, telegram_edit_interval=0.5)):
        fake.user_message("tell me a lot", user_id=7)
        await fake.wait_for(lambda: "".join(fake.texts(7)).count("end.") == 7, timeout=30)
    pieces = fake.texts(7)
    assert len(pieces) == 2
    assert all(len(piece) <= 4096 for piece in pieces)
    assert all(piece.endswith("end.") for piece in pieces)  # cut at a paragraph break
    assert "\n\n".join(pieces) == reply


async def test_a_429_is_waited_out_and_the_same_call_retried(
    fake: FakeTelegram, settings_for: Callable[..., Settings]
) -> None:
    fake.fail_next("sendMessage", 429, retry_after=1)
    async with polling(settings_for(["Short answer."])):
        fake.user_message("hi", user_id=7)
        await fake.wait_for(lambda: fake.texts(7) == ["Short answer."])
    first, second = fake.calls("sendMessage")  # the same call, again after the pause
    assert first == second


async def test_a_parse_error_falls_back_to_plain_text(
    fake: FakeTelegram, settings_for: Callable[..., Settings]
) -> None:
    fake.fail_next("editMessageText", 400)  # Telegram's "can't parse entities"
    # A long edit interval: the first word is sent, the rest arrives in one final edit.
    # Without the output guards' hold-back, which would deliver this short reply whole.
    settings = settings_for(
        ["Plain **bold** words."], telegram_edit_interval=30, output_guards=False
    )
    async with polling(settings):
        fake.user_message("hi", user_id=7)
        await fake.wait_for(lambda: fake.texts(7) == ["Plain **bold** words."])
    formatted, plain = fake.calls("editMessageText")
    assert formatted["parse_mode"] == "HTML"
    assert formatted["text"] == "Plain <b>bold</b> words."
    assert "parse_mode" not in plain
    assert plain["text"] == "Plain **bold** words."


async def test_model_text_that_looks_like_html_is_escaped(
    fake: FakeTelegram, settings_for: Callable[..., Settings]
) -> None:
    tricky = 'Use <script>alert("x")</script> & a < b > c, `x<y`.'
    async with polling(settings_for([tricky])):
        fake.user_message("hi", user_id=7)
        await fake.wait_for(lambda: fake.texts(7))
    # The fake parses HTML like Telegram: it accepted every call, and shows the text as is.
    assert fake.texts(7) == ['Use <script>alert("x")</script> & a < b > c, x<y.']
    assert all(call.get("parse_mode") == "HTML" for call in fake.calls("sendMessage"))


async def test_a_duplicate_update_is_handled_once(
    fake: FakeTelegram, settings_for: Callable[..., Settings], record: Path
) -> None:
    update = fake.user_message("only once", user_id=7, queue=False)
    async with polling(settings_for()):
        fake.push(update)
        fake.push(update)
        await fake.wait_for(lambda: fake.texts(7))
        fake.push(update)
        fake.user_message("next", user_id=7)
        await fake.wait_for(lambda: len(fake.texts(7)) == 2)
    assert [r["messages"][-1]["text"] for r in received(record)] == ["only once", "next"]


async def test_a_user_who_blocked_the_bot_is_marked_and_not_retried(
    fake: FakeTelegram, settings_for: Callable[..., Settings]
) -> None:
    fake.fail_next("sendMessage", 403)
    async with polling(settings_for(["Short answer."])) as (runtime, _):
        chats = build_telegram(runtime).chats
        fake.user_message("hi", user_id=7)
        await fake.wait_for(lambda: fake.calls("sendMessage"))
        for _ in range(50):
            if await chats.blocked(7):
                break
            await asyncio.sleep(0.05)
        assert await chats.blocked(7)
        assert len(fake.calls("sendMessage")) == 1
        assert not fake.calls("editMessageText")
        fake.user_message("I unblocked you", user_id=7)  # a message means they unblocked
        await fake.wait_for(lambda: fake.texts(7) == ["Short answer."])
        assert not await chats.blocked(7)


async def test_a_photo_for_a_text_only_model_gets_a_clear_message(
    fake: FakeTelegram, settings_for: Callable[..., Settings], record: Path
) -> None:
    photo = fake.add_file(b"\xff\xd8\xff\xe0fake-jpeg")
    async with polling(settings_for(models=["llamacpp:smollm2"])):
        fake.user_message("/model llamacpp:smollm2", user_id=7)
        await fake.wait_for(lambda: fake.texts(7))
        fake.user_message(None, user_id=7, photo_file_id=photo, caption="what is this?")
        await fake.wait_for(lambda: len(fake.texts(7)) == 2)
    assert fake.texts(7) == [
        "Model: llamacpp:smollm2.",
        "The model llamacpp:smollm2 cannot read images. Describe it in words, or pick another "
        "model with /model.",
    ]
    assert not fake.calls("getFile")
    assert received(record) == []


async def test_a_photo_reaches_a_vision_model(
    fake: FakeTelegram, settings_for: Callable[..., Settings], record: Path
) -> None:
    data = b"\xff\xd8\xff\xe0" + b"x" * 100
    photo = fake.add_file(data)
    async with polling(settings_for()):
        fake.user_message(None, user_id=7, photo_file_id=photo, caption="what is this?")
        await fake.wait_for(lambda: fake.texts(7))
    [request] = received(record)
    assert request["messages"][-1] == {
        "role": "user",
        "text": "what is this?",
        "images": [{"mime": "image/jpeg", "bytes": len(data)}],
    }


async def test_in_a_group_the_bot_answers_only_when_addressed(
    fake: FakeTelegram, settings_for: Callable[..., Settings], record: Path
) -> None:
    group = -100123
    async with polling(settings_for()):
        fake.user_message("talking among ourselves", user_id=7, chat_id=group, chat_type="group")
        fake.user_message(
            f"@{BOT_USERNAME} what time is it?", user_id=7, chat_id=group, chat_type="group"
        )
        await fake.wait_for(lambda: fake.texts(group))
        fake.user_message(
            "and you?", user_id=7, chat_id=group, chat_type="group", reply_to_bot=True
        )
        await fake.wait_for(lambda: len(fake.texts(group)) == 2)
    asked = [r["messages"][-1]["text"] for r in received(record)]
    assert asked == ["what time is it?", "and you?"]
    assert fake.calls("sendMessage")[0]["reply_parameters"]["message_id"] > 0


async def test_spanish_speakers_get_the_bots_texts_in_spanish(
    fake: FakeTelegram, settings_for: Callable[..., Settings]
) -> None:
    async with polling(settings_for()):
        fake.user_message("hola", user_id=98, username=None, language="es")
        fake.user_message("/new", user_id=7, language="es-ES")
        await fake.wait_for(lambda: fake.texts(98) and fake.texts(7))
    assert fake.texts(98)[0].startswith("Lo siento, este asistente es privado.")
    assert fake.texts(7) == ["He empezado una conversación nueva."]


async def test_commands_persona_model_usage_help(
    fake: FakeTelegram, settings_for: Callable[..., Settings], record: Path
) -> None:
    settings = settings_for(personas={"pirate": "Talk like a pirate."}, tokens_per_day=5000)
    async with polling(settings):
        for command in ("/persona pirate", "/persona nobody", "/model gpt-9", "/help", "/usage"):
            fake.user_message(command, username="bea_tg", user_id=8)
        await fake.wait_for(lambda: len(fake.texts(8)) == 5)
        fake.user_message("ahoy", user_id=8, username="bea_tg")
        await fake.wait_for(lambda: len(fake.texts(8)) == 6)
    persona, unknown, model, help_text, usage, _ = fake.texts(8)
    assert persona == "Persona: pirate."
    assert unknown == "There is no persona called 'nobody'. Available: default, pirate."
    assert model == "There is no model called 'gpt-9'. Available: scripted:t."
    assert "/persona NAME" in help_text
    assert usage.startswith("Your limits:")
    assert "tokens today: 0 used of 5000, 5000 left, resets in" in usage
    [request] = received(record)
    system = request["messages"][0]
    assert system["role"] == "system"
    assert system["text"].startswith("Talk like a pirate.\n\n")  # then its canary


async def test_a_busy_backend_and_a_too_long_message_get_friendly_answers(
    fake: FakeTelegram, settings_for: Callable[..., Settings]
) -> None:
    script = [{"text": "never", "fail": "unavailable"}]
    async with polling(settings_for(script, max_message_chars=50)):
        fake.user_message("x" * 51, user_id=7)
        await fake.wait_for(lambda: fake.texts(7))
        fake.user_message("hello", user_id=7)
        await fake.wait_for(lambda: len(fake.texts(7)) == 2)
    assert fake.texts(7) == [
        "Your message is too long for me. Please send a shorter one.",
        "The service is busy, try again in a minute.",
    ]


async def test_the_token_never_reaches_the_logs(
    fake: FakeTelegram, settings_for: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    fake.fail_next("sendMessage", 429, retry_after=1)
    async with polling(settings_for()):
        fake.user_message("hi", user_id=7)
        await fake.wait_for(lambda: fake.texts(7))
    assert any("getUpdates" in r.getMessage() for r in caplog.records)  # URLs were logged...
    assert all(fake.token not in r.getMessage() for r in caplog.records)  # ...redacted
    assert fake.token.split(":")[1] not in caplog.text
