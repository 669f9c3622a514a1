"""The official ``openai`` client, unmodified, against a live ``habla serve`` running the
real embedded model (SmolLM2) — the acceptance test of the OpenAI-compatible API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from servers import HablaProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HablaProcess]:
    data = tmp_path_factory.mktemp("serve")
    env = {
        "HABLA_DATA_DIR": str(data / "data"),
        "HABLA_DEFAULT_MODEL": "llamacpp:smollm2",
        "HABLA_MODELS": "echo:echo",
    }
    with HablaProcess(env, log_path=data / "serve.log") as process:
        yield process


@pytest.fixture
def client(server: HablaProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0) as client:
        yield client


def test_non_streaming_answer_from_the_embedded_model(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="llamacpp:smollm2",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=40,
        temperature=0,
    )
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert completion.model == "llamacpp:smollm2"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_streaming_answer_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="llamacpp:smollm2",
        messages=[{"role": "user", "content": "Name three colours."}],
        max_tokens=30,
        stream=True,
        stream_options={"include_usage": True},
    )
    text = ""
    finish_reasons = []
    usage = None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            if choice.finish_reason:
                finish_reasons.append(choice.finish_reason)
    assert text.strip()
    assert finish_reasons in (["stop"], ["length"])
    assert usage is not None and usage.completion_tokens > 0


def test_max_tokens_gives_length(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="llamacpp:smollm2",
        messages=[{"role": "user", "content": "Write a long story about a dragon."}],
        max_tokens=5,
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 5


def test_a_stored_conversation_continues_through_extra_body(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model="echo:echo",
        messages=[{"role": "user", "content": "remember the word pineapple"}],
        extra_body={"store": True},
    )
    conversation_id = first.model_extra["habla"]["conversation_id"]  # type: ignore[index]
    assert conversation_id
    client.chat.completions.create(
        model="echo:echo",
        messages=[{"role": "user", "content": "and now?"}],
        extra_body={"conversation_id": conversation_id},
    )
    stored = httpx.get(f"{client.base_url}conversations/{conversation_id}").json()
    assert [m["content"] for m in stored["messages"]] == [
        "remember the word pineapple",
        "remember the word pineapple",
        "and now?",
        "and now?",
    ]


def test_models_are_listed(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["llamacpp:smollm2", "echo:echo"]


def test_errors_surface_as_the_clients_own_exceptions(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-99", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as too_big:
        client.chat.completions.create(
            model="llamacpp:smollm2",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=10**9,
        )
    assert too_big.value.param == "max_tokens"


def test_the_server_log_has_no_traceback(server: HablaProcess) -> None:
    assert "Traceback" not in Path(server.log_path).read_text()
