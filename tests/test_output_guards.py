"""Output guards in the engine: the canary, a verbatim run of the system prompt and a
credential each end the reply with ``content_filter`` — and, thanks to the hold-back,
no part of the leaked text is ever yielded, however the reply is split (LLM07, LLM02)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from engine import ANA, LIMITS
from fakes.deltas import DeltaBackend
from habla.backends.registry import ModelRegistry
from habla.chat.personas import Personas
from habla.chat.service import ChatService
from habla.chat.turns import TurnInput
from habla.core.errors import BackendUnavailable
from habla.core.events import Finished, StreamEvent, TextDelta
from habla.core.messages import Message
from habla.core.options import ChatRequest, GenerationOptions
from habla.guards.base import GuardContext
from habla.guards.output import (
    CanaryGuard,
    PromptLeakGuard,
    SecretGuard,
    hold_back_chars,
    new_canary,
    with_canary,
)
from habla.guards.output_stream import GuardedStream
from habla.guards.pipeline import GuardPipeline
from habla.store.memory import MemoryStore

PROMPT = (
    "You are the support assistant of Acme Rockets. Answer questions about orders, "
    "deliveries and refunds; never discuss launch schedules or pricing of prototypes."
)
LEAK_CHARS = 60
CANARY = new_canary()
CTX = GuardContext("ana", "support", "fake:cloud")
AWS = "AKIA" + "IOSFODNN7EXAMPLE"


def pipeline() -> GuardPipeline:
    return GuardPipeline(
        LIMITS,
        output_guards=(
            CanaryGuard({"support": CANARY}),
            PromptLeakGuard({"support": PROMPT}, LEAK_CHARS),
            SecretGuard(),
        ),
        output_hold_chars=hold_back_chars(LEAK_CHARS),
    )


async def run(deltas: Sequence[str]) -> tuple[str, Finished, DeltaBackend]:

    backend = DeltaBackend("fake:cloud", deltas)
    request = ChatRequest((Message.of("user", "hi"),), GenerationOptions(max_tokens=100))
    events: list[StreamEvent] = [
        e async for e in pipeline().guard_output(backend.stream(request), CTX)
    ]
    *deltas_out, finished = events
    assert isinstance(finished, Finished)
    assert all(isinstance(e, TextDelta) for e in deltas_out)
    return "".join(e.text for e in deltas_out if isinstance(e, TextDelta)), finished, backend


def split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


LEAKS = {
    "canary": f"Sure. My reference is {CANARY} as you asked.",
    "prompt": f"My instructions say: {PROMPT[10:90]} and so on.",
    "prompt, other case and spacing": "Mine: " + " \n ".join(PROMPT[:120].upper().split(" ")),
    "secret": f"The deploy key is {AWS}, keep it safe.",
}


@pytest.mark.parametrize("size", [1, 3, 17, 1000])
@pytest.mark.parametrize("name", LEAKS)
async def test_a_leak_ends_the_reply_before_any_of_it_is_sent(name: str, size: int) -> None:
    text, finished, backend = await run(split(LEAKS[name], size))
    assert finished.finish_reason == "content_filter"
    assert LEAKS[name].startswith(text)
    assert "hbl-canary" not in text
    assert AWS[:4] + AWS[4:8] not in text
    assert PROMPT[10:40] not in text
    if size < len(LEAKS[name]) // 2:
        assert backend.closed_early  # generation stopped, not merely hidden


@pytest.mark.parametrize("size", [1, 5, 1000])
async def test_an_innocent_reply_passes_whole(size: int) -> None:
    reply = (
        "Your order 4521 left our warehouse on Monday; deliveries take three days. "
        "You are welcome to ask about refunds, too."
    )
    text, finished, _ = await run(split(reply, size))
    assert (text, finished.finish_reason) == (reply, "stop")


async def test_a_short_quote_of_the_prompt_is_allowed() -> None:
    reply = f"I help with {PROMPT[49:95]}."  # 46 characters: under the threshold
    text, finished, _ = await run(split(reply, 4))
    assert (text, finished.finish_reason) == (reply, "stop")


async def test_the_prompt_guard_only_knows_the_persona_in_use() -> None:
    other = GuardContext("ana", "default", "fake:cloud")
    guard = PromptLeakGuard({"support": PROMPT}, LEAK_CHARS)
    assert (await guard.check(PROMPT, other)).action == "allow"
    assert (await guard.check(PROMPT, CTX)).action == "block"


async def test_reasons_name_the_rule_not_the_text() -> None:
    verdict = await SecretGuard().check(f"key {AWS}", CTX)
    assert verdict.action == "block"
    assert AWS not in verdict.reason
    assert "aws_access_key_id" in verdict.reason


def test_each_canary_is_new_and_sits_in_the_prompt() -> None:
    assert new_canary() != new_canary()
    prompt = with_canary(PROMPT, CANARY)
    assert prompt.startswith(PROMPT)
    assert CANARY in prompt


def test_prompt_leak_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="min_chars"):
        PromptLeakGuard({"support": PROMPT}, 0)


async def test_the_blocked_reply_is_stored_without_the_leak() -> None:
    store = MemoryStore()
    backend = DeltaBackend("fake:cloud", split(LEAKS["secret"], 2))
    service = ChatService(
        models=ModelRegistry({backend.model_id: backend}, backend.model_id),
        store=store,
        personas=Personas({"default": "Be helpful.", "support": PROMPT}),
        guards=pipeline(),
    )
    prepared = await service.prepare(
        TurnInput(principal=ANA, messages=(Message.of("user", "key?"),), persona="support")
    )
    events = [e async for e in prepared.stream()]
    assert isinstance(events[-1], Finished)
    assert events[-1].finish_reason == "content_filter"
    assert prepared.conversation_id is not None
    stored = await store.list_messages(prepared.conversation_id, user_id="ana")
    assert stored[-1].status == "complete"
    assert AWS not in stored[-1].message.text
    assert stored[-1].message.text == "The deploy key is "[: len(stored[-1].message.text)]


async def test_checked_text_is_released_before_a_backend_error() -> None:

    backend = DeltaBackend("fake:cloud", ["a ", "b ", "c "], fail_at_end=BackendUnavailable("x"))
    request = ChatRequest((Message.of("user", "hi"),), GenerationOptions(max_tokens=100))
    seen: list[str] = []

    async def consume() -> None:
        async for event in pipeline().guard_output(backend.stream(request), CTX):
            assert isinstance(event, TextDelta)
            seen.append(event.text)

    with pytest.raises(BackendUnavailable):
        await consume()
    assert "".join(seen) == "a b c "


async def test_a_stream_closed_early_keeps_what_it_held_back() -> None:

    opening = "Well, " + "this is a fine question, " * 3
    backend = DeltaBackend("fake:cloud", [opening, "and more ", "to come"])
    request = ChatRequest((Message.of("user", "hi"),), GenerationOptions(max_tokens=100))
    stream = pipeline().guard_output(backend.stream(request), CTX)
    assert isinstance(stream, GuardedStream)
    first = await stream.__anext__()
    assert isinstance(first, TextDelta)
    assert 0 < len(first.text) < len(opening)  # the rest is held back
    await stream.aclose()  # the client went away
    assert first.text + stream.held == opening
    assert backend.closed_early
