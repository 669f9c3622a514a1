"""The token-aware context window: oldest turns go first, never silently."""

from __future__ import annotations

import pytest

from engine import ANA, build_service
from habla.backends.scripted import ScriptedBackend, ScriptedReply, message_tokens
from habla.chat.context import fit_window, split_turns
from habla.chat.service import collect_reply
from habla.chat.turns import TurnInput, omitted_notice
from habla.core.errors import ContextLengthExceeded
from habla.core.messages import Message

SYSTEM = Message.of("system", "Be brief.")


def history(turns: int, words: int = 20) -> list[Message]:
    messages: list[Message] = []
    for i in range(turns):
        messages.append(Message.of("user", f"question {i} " + "word " * words))
        messages.append(Message.of("assistant", f"answer {i} " + "word " * words))
    messages.append(Message.of("user", "the newest question"))
    return messages


def test_turns_start_at_user_messages() -> None:
    turns = split_turns(history(2))
    assert [len(t) for t in turns] == [2, 2, 1]


async def test_everything_fits_in_a_large_window() -> None:
    backend = ScriptedBackend("t", [ScriptedReply("ok")], context_window=10_000)
    window = await fit_window(backend, SYSTEM, history(3), reply_budget=100)
    assert window.omitted_turns == 0
    assert len(window.messages) == 1 + 7
    assert window.prompt_tokens == message_tokens(window.messages)


async def test_oldest_turns_are_dropped_and_counted() -> None:
    backend = ScriptedBackend("t", [ScriptedReply("ok")], context_window=200)
    window = await fit_window(backend, SYSTEM, history(6), reply_budget=50)
    assert window.omitted_turns > 0
    assert window.messages[0] == SYSTEM
    assert window.messages[-1].text == "the newest question"
    kept_questions = [m.text.split()[1] for m in window.messages if m.text.startswith("question")]
    assert kept_questions == sorted(kept_questions)  # a contiguous newest suffix
    assert "question 0" not in " ".join(m.text for m in window.messages)
    assert window.prompt_tokens <= 200 - 50


async def test_a_newest_turn_that_cannot_fit_is_an_error() -> None:
    backend = ScriptedBackend("t", [ScriptedReply("ok")], context_window=100)
    with pytest.raises(ContextLengthExceeded) as caught:
        await fit_window(backend, SYSTEM, [Message.of("user", "x" * 2000)], reply_budget=50)
    assert "context window" in caught.value.message


async def test_the_reply_says_how_many_turns_were_left_out() -> None:
    backend = ScriptedBackend("t", [ScriptedReply("short answer")], context_window=160)
    service, _ = build_service([backend])
    conversation_id = None
    for i in range(8):
        prepared = await service.prepare(
            TurnInput(
                principal=ANA,
                messages=(Message.of("user", f"message {i} " + "padding " * 10),),
                conversation_id=conversation_id,
                max_tokens=20,
            )
        )
        await collect_reply(prepared)
        conversation_id = prepared.conversation_id
    assert prepared.omitted_turns > 0
    assert prepared.notice == omitted_notice(prepared.omitted_turns)
    assert prepared.notice is not None and str(prepared.omitted_turns) in prepared.notice
    sent = backend.received[-1].messages
    assert sent[-1].text.startswith("message 7")
    assert not any(m.text.startswith("message 0") for m in sent)


def test_no_notice_when_nothing_was_left_out() -> None:
    assert omitted_notice(0) is None
    assert omitted_notice(1) == "1 earlier turn was left out to fit the model's context window."
    assert omitted_notice(3) == "3 earlier turns were left out to fit the model's context window."
