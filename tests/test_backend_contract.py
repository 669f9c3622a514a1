"""One contract, every backend: ``echo``, ``scripted``, ``llamacpp`` (the real embedded
SmolLM2 model) and ``openai`` (the real SDK against the fake server on 127.0.0.1).

Whatever sits behind :class:`habla.backends.base.Backend`, the engine relies on the same
things: ``kind:name`` ids, text deltas then exactly one ``Finished``, ``complete()`` equal
to the stream, ``max_tokens`` honoured, real prompt usage, token counts that grow, and a
backend that survives a consumer walking away mid-reply.

The fake OpenAI server ignores ``max_tokens`` (it is not a model), so for ``openai`` the
length test scripts the reply a real server would send and checks what habla asked for.
All tests share one event loop per module so that the model loads once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from fakes.openai_server import FakeOpenAIServer, Reply
from habla.backends.base import Backend, complete, split_model_id
from habla.backends.echo import EchoBackend
from habla.backends.llamacpp import LlamaCppBackend, embedded_model_path
from habla.backends.openai_compat import OpenAIBackend
from habla.backends.scripted import ScriptedBackend, ScriptedReply, chunk_words
from habla.core.events import Finished, StreamEvent, TextDelta
from habla.core.messages import Message
from habla.core.options import ChatRequest, GenerationOptions

pytestmark = pytest.mark.asyncio(loop_scope="module")

KINDS = ["echo", "scripted", "llamacpp", "openai"]
# Echo and the fake server repeat this; the model writes a story longer than any limit here.
PROMPT = "Please write a long and detailed story about a brave little dragon who learns to fly."
SCRIPT = " ".join(f"word{i}" for i in range(40))
DETERMINISTIC = GenerationOptions(max_tokens=24, temperature=0.0, seed=7)


@dataclass
class Case:
    kind: str
    backend: Backend
    server: FakeOpenAIServer | None = None

    def expect_limited_reply(self, max_tokens: int) -> None:
        """Make the next reply one that a server honouring ``max_tokens`` would send."""
        if self.server is not None:
            words = chunk_words(PROMPT)[:max_tokens]
            self.server.enqueue(Reply(text="".join(words), finish_reason="length"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def llama() -> AsyncIterator[LlamaCppBackend]:
    backend = LlamaCppBackend("smollm2", embedded_model_path())
    await backend.start()
    yield backend
    await backend.close()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest_asyncio.fixture(params=KINDS, loop_scope="module")
async def case(
    request: pytest.FixtureRequest, llama: LlamaCppBackend, server: FakeOpenAIServer
) -> AsyncIterator[Case]:
    kind: str = request.param
    built: Case
    if kind == "echo":
        built = Case(kind, EchoBackend("echo"))
    elif kind == "scripted":
        built = Case(kind, ScriptedBackend("contract", [ScriptedReply(text=SCRIPT)]))
    elif kind == "llamacpp":
        built = Case(kind, llama)
    else:
        fake = OpenAIBackend("fake-model", api_key=None, base_url=server.base_url, max_retries=0)
        built = Case(kind, fake, server)
    if kind != "llamacpp":  # the shared model is started and closed by its own fixture
        await built.backend.start()
    yield built
    if kind != "llamacpp":
        await built.backend.close()
    else:
        await settled(llama)


async def settled(backend: LlamaCppBackend) -> None:
    """Wait (bounded) until the model's worker has no job, so tests do not overlap."""
    for _ in range(2000):
        if backend._pending == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the llamacpp worker is still busy")


def ask(text: str = PROMPT, options: GenerationOptions = DETERMINISTIC) -> ChatRequest:
    return ChatRequest(messages=(Message.of("user", text),), options=options)


async def events_of(backend: Backend, request: ChatRequest) -> list[StreamEvent]:
    return [event async for event in backend.stream(request)]


def assert_well_formed(events: list[StreamEvent]) -> Finished:
    """Zero or more non-empty deltas, then exactly one Finished, and nothing after it."""
    assert events, "a stream must at least finish"
    *deltas, last = events
    assert isinstance(last, Finished)
    assert all(isinstance(event, TextDelta) for event in deltas)
    assert all(event.text for event in deltas if isinstance(event, TextDelta))
    return last


# -- identity ------------------------------------------------------------------------------


async def test_is_a_backend_with_a_kind_colon_name_id(case: Case) -> None:
    assert isinstance(case.backend, Backend)
    kind, name = split_model_id(case.backend.model_id)
    assert kind == case.kind
    assert name


async def test_has_a_context_window(case: Case) -> None:
    assert case.backend.capabilities.context_window > 0


async def test_start_is_idempotent(case: Case) -> None:
    await case.backend.start()
    assert_well_formed(await events_of(case.backend, ask()))


# -- the stream ----------------------------------------------------------------------------


async def test_stream_is_deltas_then_exactly_one_finished(case: Case) -> None:
    finished = assert_well_formed(await events_of(case.backend, ask()))
    assert finished.finish_reason in ("stop", "length")


async def test_stream_iterator_is_exhausted_after_finished(case: Case) -> None:
    stream = case.backend.stream(ask())
    async for event in stream:
        if isinstance(event, Finished):
            break
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_complete_equals_the_joined_stream(case: Case) -> None:
    events = await events_of(case.backend, ask())
    finished = assert_well_formed(events)
    streamed = "".join(e.text for e in events if isinstance(e, TextDelta))
    completion = await complete(case.backend, ask())
    assert streamed
    assert completion.text == streamed
    assert completion.finish_reason == finished.finish_reason
    assert completion.usage == finished.usage


async def test_usage_counts_the_prompt(case: Case) -> None:
    finished = assert_well_formed(await events_of(case.backend, ask()))
    assert finished.usage.prompt_tokens > 0
    assert finished.usage.completion_tokens >= 0


async def test_max_tokens_is_respected(case: Case) -> None:
    limit = 5
    case.expect_limited_reply(limit)
    options = GenerationOptions(max_tokens=limit, temperature=0.0, seed=7)
    events = await events_of(case.backend, ask(options=options))
    finished = assert_well_formed(events)
    assert finished.finish_reason == "length"
    assert 0 < finished.usage.completion_tokens <= limit
    assert len(events) - 1 <= limit  # a delta never carries less than one token
    if case.server is not None:
        assert case.server.requests[-1]["max_tokens"] == limit


async def test_one_token_is_enough_for_a_delta(case: Case) -> None:
    case.expect_limited_reply(1)
    options = GenerationOptions(max_tokens=1, temperature=0.0, seed=7)
    completion = await complete(case.backend, ask(options=options))
    assert completion.finish_reason == "length"
    assert completion.usage.completion_tokens == 1
    assert completion.text


# -- tokens --------------------------------------------------------------------------------


async def test_count_tokens_grows_with_messages(case: Case) -> None:
    # Appended, as a conversation grows. (Prepending a short system message can shrink a
    # prompt: SmolLM2's template adds a long default system prompt when there is none.)
    one = [Message.of("system", "Be brief."), Message.of("user", "Hello there, how are you?")]
    two = [*one, Message.of("assistant", "Very well, thank you.")]
    three = [*two, Message.of("user", "Good.")]
    counts = [await case.backend.count_tokens(m) for m in (one, two, three)]
    assert 0 < counts[0] < counts[1] < counts[2]


async def test_count_tokens_grows_with_text(case: Case) -> None:
    short = await case.backend.count_tokens([Message.of("user", "Hi")])
    long = await case.backend.count_tokens([Message.of("user", "Hi " + "and more " * 50)])
    assert short < long


# -- walking away --------------------------------------------------------------------------


async def test_closing_a_stream_early_leaves_the_backend_usable(case: Case) -> None:
    long = GenerationOptions(max_tokens=200, temperature=0.0, seed=7)
    stream = case.backend.stream(ask(options=long))
    first = await anext(stream)
    assert isinstance(first, TextDelta)
    await stream.aclose()

    finished = assert_well_formed(await events_of(case.backend, ask()))
    assert finished.finish_reason in ("stop", "length")


async def test_a_stream_never_started_can_be_closed(case: Case) -> None:
    stream = case.backend.stream(ask())
    await stream.aclose()
    assert_well_formed(await events_of(case.backend, ask()))


async def test_two_requests_in_a_row_both_finish(case: Case) -> None:
    first = await complete(case.backend, ask())
    second = await complete(case.backend, ask("Say hello."))
    assert first.finish_reason in ("stop", "length")
    assert second.finish_reason in ("stop", "length")
