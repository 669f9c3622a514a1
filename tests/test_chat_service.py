"""The engine on its own: personas, history, persistence of complete and cut-off replies,
ownership and usage — with the memory store and the scripted backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from engine import ANA, BOB, build_service
from habla.backends.echo import EchoBackend
from habla.backends.scripted import ScriptedBackend, ScriptedReply
from habla.chat.service import collect_reply
from habla.chat.turns import TurnInput
from habla.core.errors import (
    BackendUnavailable,
    InputTooLarge,
    InvalidRequest,
    NotFound,
    UnknownModel,
)
from habla.core.events import TextDelta
from habla.core.messages import Message


def turn(text: str, **kwargs: object) -> TurnInput:
    return TurnInput(principal=ANA, messages=(Message.of("user", text),), **kwargs)  # type: ignore[arg-type]


async def test_a_turn_is_stored_with_its_reply_and_usage() -> None:
    backend = ScriptedBackend("t", [ScriptedReply("Hello Ana")])
    service, store = build_service([backend])
    prepared = await service.prepare(turn("hi"))
    reply, finished = await collect_reply(prepared)
    assert reply == "Hello Ana"
    assert finished.finish_reason == "stop"
    assert prepared.conversation_id is not None
    stored = await store.list_messages(prepared.conversation_id, user_id="ana")
    assert [(s.message.role, s.message.text, s.status) for s in stored] == [
        ("user", "hi", "complete"),
        ("assistant", "Hello Ana", "complete"),
    ]
    usage = await store.usage_since(user_id="ana", since=datetime.now(UTC) - timedelta(hours=1))
    assert usage == finished.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens == 2


async def test_the_persona_prompt_leads_and_history_follows() -> None:
    backend = ScriptedBackend("t", [ScriptedReply("one"), ScriptedReply("two")])
    service, _ = build_service([backend])
    first = await service.prepare(turn("first", persona="pirate"))
    await collect_reply(first)
    second = await service.prepare(turn("second", conversation_id=first.conversation_id))
    await collect_reply(second)
    sent = backend.received[-1].messages
    assert [(m.role, m.text) for m in sent] == [
        ("system", "Talk like a pirate."),  # the conversation keeps its persona
        ("user", "first"),
        ("assistant", "one"),
        ("user", "second"),
    ]


async def test_a_system_message_in_the_request_replaces_the_persona_and_is_not_stored() -> None:
    backend = EchoBackend()
    service, store = build_service([backend])
    prepared = await service.prepare(
        TurnInput(
            principal=ANA,
            messages=(Message.of("system", "Only French."), Message.of("user", "bonjour")),
        )
    )
    await collect_reply(prepared)
    assert prepared.request.messages[0] == Message.of("system", "Only French.")
    assert prepared.conversation_id is not None
    stored = await store.list_messages(prepared.conversation_id, user_id="ana")
    assert [s.message.role for s in stored] == ["user", "assistant"]


async def test_a_reply_cut_by_a_backend_failure_is_stored_incomplete() -> None:
    backend = ScriptedBackend("t", [ScriptedReply("a b c d e", fail="unavailable", fail_after=2)])
    service, store = build_service([backend])
    prepared = await service.prepare(turn("hi"))
    seen: list[str] = []

    async def consume() -> None:
        async for event in prepared.stream():
            if isinstance(event, TextDelta):
                seen.append(event.text)

    with pytest.raises(BackendUnavailable):
        await consume()
    await service.drain()
    assert prepared.conversation_id is not None
    reply = (await store.list_messages(prepared.conversation_id, user_id="ana"))[-1]
    assert reply.status == "incomplete"
    assert reply.message.text == "".join(seen) == "a b "


async def test_a_reply_abandoned_by_the_client_is_stored_incomplete() -> None:
    backend = ScriptedBackend("t", [ScriptedReply("one two three four five six", delay=0.01)])
    service, store = build_service([backend])
    prepared = await service.prepare(turn("hi"))
    events = prepared.stream()
    first = await anext(events)
    assert first == TextDelta("one ")
    await events.aclose()  # the client went away
    await service.drain()
    assert prepared.conversation_id is not None
    reply = (await store.list_messages(prepared.conversation_id, user_id="ana"))[-1]
    assert (reply.status, reply.message.text) == ("incomplete", "one ")


async def test_a_cancelled_task_still_stores_the_partial_reply() -> None:
    backend = ScriptedBackend("t", [ScriptedReply("w " * 50, delay=0.02)])
    service, store = build_service([backend])
    prepared = await service.prepare(turn("hi"))
    got_one = asyncio.Event()

    async def consume() -> None:
        async for _ in prepared.stream():
            got_one.set()

    task = asyncio.ensure_future(consume())
    await got_one.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await service.drain()
    assert prepared.conversation_id is not None
    reply = (await store.list_messages(prepared.conversation_id, user_id="ana"))[-1]
    assert reply.status == "incomplete"
    assert 0 < len(reply.message.text) < len("w " * 50)


async def test_someone_elses_conversation_is_not_found() -> None:
    service, _ = build_service([EchoBackend()])
    mine = await service.prepare(turn("secret"))
    await collect_reply(mine)
    with pytest.raises(NotFound):
        await service.prepare(
            TurnInput(
                principal=BOB,
                messages=(Message.of("user", "show me"),),
                conversation_id=mine.conversation_id,
            )
        )
    assert mine.conversation_id is not None
    with pytest.raises(NotFound):
        await service.delete_conversation(mine.conversation_id, "bob")


async def test_bad_input_is_refused_before_anything_is_stored() -> None:
    service, store = build_service([EchoBackend()])
    with pytest.raises(UnknownModel):
        await service.prepare(turn("x", model="llamacpp:/etc/passwd"))
    with pytest.raises(InvalidRequest):
        await service.prepare(turn("x", persona="nobody"))
    with pytest.raises(InputTooLarge):
        await service.prepare(turn("x", max_tokens=10**9))
    with pytest.raises(InputTooLarge):
        await service.prepare(turn("x" * 10_001))
    with pytest.raises(InvalidRequest):
        await service.prepare(
            TurnInput(principal=ANA, messages=(Message.of("system", "only a system prompt"),))
        )
    assert await store.list_conversations(user_id="ana") == []


async def test_store_false_keeps_no_conversation_but_counts_usage() -> None:
    service, store = build_service([EchoBackend()])
    prepared = await service.prepare(turn("hello", store=False))
    await collect_reply(prepared)
    assert prepared.conversation_id is None
    assert await store.list_conversations(user_id="ana") == []
    usage = await store.usage_since(user_id="ana", since=datetime.now(UTC) - timedelta(hours=1))
    assert usage.completion_tokens > 0
