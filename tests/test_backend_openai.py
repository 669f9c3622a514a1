"""The ``openai`` backend against a real HTTP server on 127.0.0.1 (``fakes.openai_server``).

No patching: the real ``openai`` SDK talks real HTTP to the fake, so retries, timeouts,
SSE parsing and error translation are exercised end to end. Retry tests keep themselves
quick with tiny ``Retry-After`` values, which the SDK honours instead of its own backoff.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import openai
import pytest

from fakes.openai_server import Fail, FakeOpenAIServer, Hang, Reply
from habla.backends.base import Backend, complete
from habla.backends.openai_compat import OpenAIBackend, parse_retry_after
from habla.core.errors import BackendRejected, BackendUnavailable, ConfigError, UnsupportedFeature
from habla.core.events import Finished, StreamEvent, TextDelta, Usage
from habla.core.messages import Image, Message, Text
from habla.core.options import ChatRequest, GenerationOptions

SECRET_KEY = "sk-test-very-secret-0123456789abcdef"
QUICK = 0.001  # seconds of Retry-After: the SDK honours it, so retries stay quick
PNG = b"\x89PNG\r\n\x1a\n fake image bytes"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def make_backend(base_url: str, **kwargs: object) -> OpenAIBackend:
    options: dict[str, object] = {"api_key": SECRET_KEY, "base_url": base_url, "max_retries": 0}
    options.update(kwargs)
    return OpenAIBackend("gpt-test", **options)  # type: ignore[arg-type]


@pytest.fixture
async def backend(server: FakeOpenAIServer) -> AsyncIterator[OpenAIBackend]:
    chosen = make_backend(server.base_url)
    await chosen.start()
    yield chosen
    await chosen.close()


def ask(text: str, **options: object) -> ChatRequest:
    return ChatRequest(
        messages=(Message.of("user", text),),
        options=GenerationOptions(**options),  # type: ignore[arg-type]
    )


async def collect_deltas(events: AsyncIterator[StreamEvent], *, into: list[str]) -> None:
    async for event in events:
        if isinstance(event, TextDelta):
            into.append(event.text)


async def events_of(backend: OpenAIBackend, request: ChatRequest) -> list[object]:
    return [event async for event in backend.stream(request)]


# -- identity ------------------------------------------------------------------------------


async def test_is_a_backend_with_its_id_and_capabilities(backend: OpenAIBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.model_id == "openai:gpt-test"
    assert backend.capabilities.context_window == 128_000
    assert backend.capabilities.vision is False


# -- streaming and usage -------------------------------------------------------------------


async def test_streams_deltas_then_provider_usage(
    server: FakeOpenAIServer, backend: OpenAIBackend
) -> None:
    server.enqueue(Reply(text="hi there friend", prompt_tokens=21, completion_tokens=3))
    events = await events_of(backend, ask("hello"))
    assert events == [
        TextDelta("hi "),
        TextDelta("there "),
        TextDelta("friend"),
        Finished("stop", Usage(21, 3)),
    ]
    sent = server.requests[0]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["model"] == "gpt-test"


async def test_complete_drains_the_stream(server: FakeOpenAIServer, backend: OpenAIBackend) -> None:
    server.enqueue(Reply(text="the whole answer", prompt_tokens=5, completion_tokens=3))
    result = await complete(backend, ask("question"))
    assert result.text == "the whole answer"
    assert result.finish_reason == "stop"
    assert result.usage == Usage(5, 3)
    assert server.requests[0]["stream"] is True  # one code path: always streamed


async def test_usage_is_estimated_when_the_provider_sends_none(
    server: FakeOpenAIServer, backend: OpenAIBackend
) -> None:
    server.enqueue(Reply(text="twelve chars", usage=False))
    request = ask("a prompt of some length")
    result = await complete(backend, request)
    prompt = await backend.count_tokens(request.messages)
    assert result.usage == Usage(prompt, 3)  # 12 characters, about 4 a token
    assert prompt == 4 + 6  # per-message overhead + ceil(23 / 4)


@pytest.mark.parametrize(
    ("provider", "habla"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("content_filter", "content_filter"),
        ("tool_calls", "stop"),
    ],
)
async def test_finish_reasons_are_mapped(
    server: FakeOpenAIServer, backend: OpenAIBackend, provider: str, habla: str
) -> None:
    server.enqueue(Reply(text="some text", finish_reason=provider))
    assert (await complete(backend, ask("go"))).finish_reason == habla


async def test_roles_are_sent_structured(server: FakeOpenAIServer, backend: OpenAIBackend) -> None:
    messages = (
        Message.of("system", "You are terse."),
        Message.of("user", "first"),
        Message.of("assistant", "reply"),
        Message(role="user", parts=(Text("sec"), Text("ond"))),
    )
    await complete(backend, ChatRequest(messages=messages))
    assert server.requests[0]["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "second"},
    ]


async def test_the_default_echo_answers_the_last_user_message(backend: OpenAIBackend) -> None:
    assert (await complete(backend, ask("echo me"))).text == "echo me"


async def test_closing_the_stream_early_leaves_the_backend_usable(
    server: FakeOpenAIServer, backend: OpenAIBackend
) -> None:
    server.enqueue(Reply(text="word " * 200))
    events = backend.stream(ask("go"))
    assert isinstance(await anext(events), TextDelta)
    await events.aclose()  # type: ignore[attr-defined]
    assert (await complete(backend, ask("again"))).text == "again"


async def test_the_fake_also_answers_without_streaming(server: FakeOpenAIServer) -> None:
    """Other suites point the plain SDK at the fake; its non-streaming side must hold up."""
    server.enqueue(Reply(text="whole reply", prompt_tokens=4, completion_tokens=2))
    async with openai.AsyncOpenAI(api_key="k", base_url=server.base_url) as client:
        reply = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
        models = await client.models.list()
    assert reply.choices[0].message.content == "whole reply"
    assert reply.usage is not None
    assert reply.usage.total_tokens == 6
    assert [model.id for model in models.data] == [server.model]


# -- options -------------------------------------------------------------------------------


async def test_options_reach_the_server(server: FakeOpenAIServer, backend: OpenAIBackend) -> None:
    request = ask("go", max_tokens=17, temperature=0.2, top_p=0.5, stop=("END", "\n\n"), seed=42)
    await complete(backend, request)
    sent = server.requests[0]
    assert sent["max_tokens"] == 17
    assert sent["temperature"] == 0.2
    assert sent["top_p"] == 0.5
    assert sent["stop"] == ["END", "\n\n"]
    assert sent["seed"] == 42


async def test_empty_stop_and_no_seed_are_omitted(
    server: FakeOpenAIServer, backend: OpenAIBackend
) -> None:
    await complete(backend, ask("go"))
    assert "stop" not in server.requests[0]
    assert "seed" not in server.requests[0]


# -- images --------------------------------------------------------------------------------


def picture_message() -> Message:
    return Message(role="user", parts=(Text("what is this?"), Image(PNG, "image/png")))


async def test_images_go_as_data_urls_to_a_vision_model(server: FakeOpenAIServer) -> None:
    backend = make_backend(server.base_url, vision=True)
    try:
        await complete(backend, ChatRequest(messages=(picture_message(),)))
    finally:
        await backend.close()
    url = "data:image/png;base64," + base64.b64encode(PNG).decode("ascii")
    assert server.requests[0]["messages"][0]["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": url}},
    ]


async def test_images_to_a_text_model_fail_before_any_request(
    server: FakeOpenAIServer, backend: OpenAIBackend
) -> None:
    with pytest.raises(UnsupportedFeature):
        await complete(backend, ChatRequest(messages=(picture_message(),)))
    assert server.requests == []


async def test_count_tokens_is_an_estimate_with_image_overhead(backend: OpenAIBackend) -> None:
    messages = [Message.of("system", "12345678"), picture_message()]
    # system: 4 + 2; user: 4 + ceil(13 / 4) + 85 for the image
    assert await backend.count_tokens(messages) == 6 + 4 + 4 + 85


# -- retries and availability --------------------------------------------------------------


async def test_a_429_is_retried_then_succeeds(server: FakeOpenAIServer) -> None:
    server.enqueue(Fail(status=429, retry_after=QUICK), Reply(text="made it"))
    backend = make_backend(server.base_url, max_retries=2)
    try:
        result = await complete(backend, ask("go"))
    finally:
        await backend.close()
    assert result.text == "made it"
    assert len(server.requests) == 2


async def test_persistent_429_is_unavailable_with_retry_after(server: FakeOpenAIServer) -> None:
    server.enqueue(*[Fail(status=429, retry_after=QUICK)] * 3)
    backend = make_backend(server.base_url, max_retries=2)
    try:
        with pytest.raises(BackendUnavailable) as caught:
            await complete(backend, ask("go"))
    finally:
        await backend.close()
    assert caught.value.retry_after == pytest.approx(QUICK)
    assert len(server.requests) == 3


async def test_500s_until_retries_run_out_is_unavailable(server: FakeOpenAIServer) -> None:
    server.enqueue(*[Fail(status=500, retry_after=QUICK)] * 3, Reply(text="too late"))
    backend = make_backend(server.base_url, max_retries=2)
    try:
        with pytest.raises(BackendUnavailable, match="HTTP 500"):
            await complete(backend, ask("go"))
    finally:
        await backend.close()
    assert len(server.requests) == 3  # the first try and two retries
    assert server.pending == 1


async def test_a_hang_longer_than_the_timeout_is_unavailable(server: FakeOpenAIServer) -> None:
    server.enqueue(Hang(seconds=5))
    backend = make_backend(server.base_url, timeout=0.5)
    try:
        with pytest.raises(BackendUnavailable, match="did not answer"):
            await complete(backend, ask("go"))
    finally:
        await backend.close()


async def test_a_timeout_is_retried(server: FakeOpenAIServer) -> None:
    server.enqueue(Hang(seconds=5), Reply(text="second try"))
    backend = make_backend(server.base_url, timeout=0.5, max_retries=1)
    try:
        assert (await complete(backend, ask("go"))).text == "second try"
    finally:
        await backend.close()
    assert len(server.requests) == 2


async def test_connection_refused_is_unavailable() -> None:
    # A bound socket that never listens: connecting to it is refused, and no other
    # process can take the port while we hold it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as idle:
        idle.bind(("127.0.0.1", 0))
        port = idle.getsockname()[1]
        backend = make_backend(f"http://127.0.0.1:{port}/v1")
        try:
            with pytest.raises(BackendUnavailable, match="could not be reached") as caught:
                await complete(backend, ask("go"))
        finally:
            await backend.close()
    assert f"127.0.0.1:{port}" in caught.value.message


@pytest.mark.parametrize("how", ["fail_midway", "drop_midway"])
async def test_a_failure_mid_stream_is_unavailable(
    server: FakeOpenAIServer, backend: OpenAIBackend, how: str
) -> None:
    server.enqueue(Reply(text="one two three four", **{how: True}))  # type: ignore[arg-type]
    received: list[str] = []
    with pytest.raises(BackendUnavailable):
        await collect_deltas(backend.stream(ask("go")), into=received)
    assert received == ["one ", "two "]  # what came before the failure was delivered


# -- refusals and credentials --------------------------------------------------------------


async def test_a_401_is_rejected_without_leaking_the_key(
    server: FakeOpenAIServer, backend: OpenAIBackend
) -> None:
    server.enqueue(Fail(status=401))  # the fake echoes the presented key in its message
    with pytest.raises(BackendRejected, match="OPENAI_API_KEY") as caught:
        await complete(backend, ask("go"))
    assert SECRET_KEY not in str(caught.value)
    assert server.headers[0]["authorization"] == f"Bearer {SECRET_KEY}"
    assert len(server.requests) == 1  # a refusal is not retried


async def test_a_403_is_rejected(server: FakeOpenAIServer, backend: OpenAIBackend) -> None:
    server.enqueue(Fail(status=403))
    with pytest.raises(BackendRejected, match="credentials"):
        await complete(backend, ask("go"))


async def test_a_400_passes_on_the_trimmed_provider_message(
    server: FakeOpenAIServer, backend: OpenAIBackend
) -> None:
    long_message = "This model's maximum context length is 8192 tokens. " * 20
    server.enqueue(Fail(status=400, message=long_message + SECRET_KEY))
    with pytest.raises(BackendRejected, match="maximum context length") as caught:
        await complete(backend, ask("go"))
    assert len(caught.value.message) < 400
    assert SECRET_KEY not in caught.value.message


async def test_a_missing_key_with_the_default_base_url_is_a_config_error() -> None:
    backend = OpenAIBackend("gpt-4o", api_key=None, base_url=None)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        await backend.start()


async def test_a_missing_key_is_fine_for_a_local_server(server: FakeOpenAIServer) -> None:
    backend = make_backend(server.base_url, api_key=None)
    try:
        assert (await complete(backend, ask("local"))).text == "local"
    finally:
        await backend.close()
    assert server.headers[0]["authorization"] == "Bearer not-needed"


# -- lifecycle -----------------------------------------------------------------------------


async def test_an_injected_http_client_is_left_open(server: FakeOpenAIServer) -> None:
    async with httpx.AsyncClient() as http_client:
        backend = make_backend(server.base_url, http_client=http_client)
        await backend.start()
        assert (await complete(backend, ask("shared"))).text == "shared"
        await backend.close()
        assert not http_client.is_closed
        response = await http_client.get(f"{server.base_url}/models")
        assert response.json()["data"][0]["id"] == server.model


def test_retry_after_accepts_milliseconds_seconds_and_dates() -> None:
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    assert parse_retry_after(httpx.Headers({"Retry-After": "3"})) == 3.0
    assert parse_retry_after(httpx.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert parse_retry_after(httpx.Headers({"Retry-After": "soon"})) is None
    assert parse_retry_after(httpx.Headers({"Retry-After": "nan"})) is None
    assert parse_retry_after(httpx.Headers()) is None
