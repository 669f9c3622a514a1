"""SSE streaming of ``POST /v1/chat/completions`` over real HTTP: byte-level framing,
forged events, keep-alives, errors before and after the headers, and client disconnects
cancelling generation (REL-STREAM, REL-CANCEL, LLM05)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from habla.settings import Settings
from test_api_support import (
    MODEL,
    Api,
    Launcher,
    assert_openai_error,
    data_events,
    sse_events,
    words,
)


@pytest.fixture
def launch(
    make_settings: Callable[..., Settings], write_script: Callable[..., Path], tmp_path: Path
) -> Launcher:
    return Launcher(make_settings, write_script, tmp_path)


def stream_raw(api: Api, **body: Any) -> tuple[httpx.Response, str]:
    body.setdefault("messages", [{"role": "user", "content": "hello"}])
    with api.http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as resp:
        raw = resp.read().decode()
    return resp, raw


def content_of(events: list[Any]) -> str:
    return "".join(
        e["choices"][0]["delta"].get("content") or ""
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )


def test_stream_framing_is_openai_exact(launch: Launcher) -> None:
    with launch(["Hello brave new world."]) as api:
        response, raw = stream_raw(api, stream_options={"include_usage": True})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-habla-omitted-turns"] == "0"
        # Every event is exactly one "data: ..." line followed by a blank line.
        for block in raw.split("\n\n")[:-1]:
            assert block.startswith("data: ")
            assert "\n" not in block
        events = data_events(raw)
        assert events[-1] == "[DONE]"
        assert raw.endswith("data: [DONE]\n\n")
        chunks: list[dict[str, Any]] = events[:-1]
        assert len({c["id"] for c in chunks}) == 1
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert all(c["model"] == MODEL for c in chunks)

        first, *middle, final, usage_chunk = chunks
        assert first["choices"][0]["delta"]["role"] == "assistant"
        assert first["choices"][0]["finish_reason"] is None
        assert first["habla"]["conversation_id"] is None
        # Text that arrives while the writer is busy may be merged into fewer chunks.
        deltas = [c["choices"][0]["delta"] for c in middle]
        assert all(set(d) == {"content"} and d["content"] for d in deltas)
        assert "".join(d["content"] for d in deltas) == "Hello brave new world."
        assert all(c["choices"][0]["finish_reason"] is None for c in middle)
        assert all(c["usage"] is None for c in [first, *middle, final])
        assert final["choices"][0]["delta"] == {}
        assert final["choices"][0]["finish_reason"] == "stop"
        assert usage_chunk["choices"] == []
        usage = usage_chunk["usage"]
        assert usage["completion_tokens"] == 4
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_stream_without_include_usage_has_no_usage_chunk(launch: Launcher) -> None:
    with launch(["Just this."]) as api:
        _, raw = stream_raw(api)
        events = data_events(raw)
        chunks = events[:-1]
        assert events[-1] == "[DONE]"
        assert all(c["choices"] for c in chunks)
        assert all("usage" not in c for c in chunks)
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        assert content_of(events) == "Just this."


def test_model_text_cannot_forge_events(launch: Launcher) -> None:
    evil = 'ok\n\ndata: [DONE]\n\ndata: {"id": "forged"}\n\nevent: x\r\nafter'
    with launch([evil]) as api:
        _, raw = stream_raw(api)
        events = sse_events(raw)  # checks every event is a single data line
        assert events.count("[DONE]") == 1
        assert events[-1] == "[DONE]"
        decoded = data_events(raw)
        assert all(isinstance(e, dict) and e["id"] != "forged" for e in decoded[:-1])
        assert content_of(decoded) == evil


def test_small_max_tokens_finishes_with_length(launch: Launcher) -> None:
    with launch(["one two three four five six"]) as api:
        _, raw = stream_raw(api, max_tokens=2)
        events = data_events(raw)
        assert content_of(events) == "one two "
        assert events[-2]["choices"][0]["finish_reason"] == "length"
        plain = api.completion(max_tokens=2)
        assert plain.json()["choices"][0]["finish_reason"] == "length"
        assert [r["max_tokens"] for r in api.received()] == [2, 2]


def test_stored_stream_continues_conversation(launch: Launcher) -> None:
    with launch(["Streamed reply."]) as api:
        response, raw = stream_raw(api, store=True)
        conversation_id = response.headers["x-habla-conversation-id"]
        assert data_events(raw)[0]["habla"]["conversation_id"] == conversation_id
        stored = api.messages(conversation_id)
        assert [(m["role"], m["content"], m["status"]) for m in stored] == [
            ("user", "hello", "complete"),
            ("assistant", "Streamed reply.", "complete"),
        ]


def test_official_openai_client_parses_both_paths(launch: Launcher) -> None:
    with (
        launch(["Hello from habla."]) as api,
        openai.OpenAI(base_url=api.url + "/v1", api_key="unused", max_retries=0) as client,
    ):
        messages: Any = [{"role": "user", "content": "hi"}]
        completion = client.chat.completions.create(model=MODEL, messages=messages)
        assert completion.choices[0].message.content == "Hello from habla."
        assert completion.usage is not None
        assert completion.usage.total_tokens > 0
        stream = client.chat.completions.create(
            model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "Hello from habla."
        assert chunks[-1].choices == []
        assert chunks[-1].usage is not None


# Errors


@pytest.mark.parametrize("delay", [0.0, 0.4])
def test_error_mid_stream_is_a_final_error_event(launch: Launcher, delay: float) -> None:
    script = {"text": "a b c d e f", "fail": "unavailable", "fail_after": 3, "delay": delay}
    with launch([script]) as api:
        response, raw = stream_raw(api, store=True)
        assert response.status_code == 200
        events = data_events(raw)
        assert "[DONE]" not in events
        assert content_of(events) == "a b c "
        error = events[-1]["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["code"] == "backend_unavailable"
        assert error["type"] == "service_unavailable"
        conversation_id = response.headers["x-habla-conversation-id"]
        stored = api.wait_for(conversation_id, lambda ms: ms[-1]["content"] != "")
        assert stored[-1]["role"] == "assistant"
        assert stored[-1]["status"] == "incomplete"
        assert stored[-1]["content"] == "a b c "


def test_error_mid_reply_without_streaming_is_503_and_stored_incomplete(
    launch: Launcher,
) -> None:
    script = {"text": "a b c d e f", "fail": "unavailable", "fail_after": 3}
    with launch([script]) as api:
        response = api.completion(store=True)
        assert_openai_error(response, 503, code="backend_unavailable")
        [conversation] = api.conversations()
        stored = api.messages(conversation["id"])
        assert [(m["role"], m["status"]) for m in stored] == [
            ("user", "complete"),
            ("assistant", "incomplete"),
        ]
        assert stored[-1]["content"] == "a b c "


@pytest.mark.parametrize(
    ("fail", "status", "code"),
    [("unavailable", 503, "backend_unavailable"), ("rejected", 502, "backend_rejected")],
)
def test_backend_failing_before_first_token_gets_a_real_status(
    launch: Launcher, fail: str, status: int, code: str
) -> None:
    with launch([{"text": "never said", "fail": fail, "fail_after": 0}]) as api:
        response, raw = stream_raw(api)
        assert response.headers["content-type"].startswith("application/json")
        assert "retry-after" not in response.headers
        assert_openai_error(response, status, code=code)
        assert "data:" not in raw


def test_keepalive_comments_while_waiting_for_first_token(launch: Launcher) -> None:
    with launch([{"text": "slow start", "delay": 1.5}], sse_keepalive_seconds=0.2) as api:
        response, raw = stream_raw(api)
        assert response.status_code == 200
        events = sse_events(raw)
        assert ": keep-alive" in events
        assert ": keep-alive\n\n" in raw
        assert events[-1] == "[DONE]"
        decoded = data_events(raw)
        assert decoded[0]["choices"][0]["delta"]["role"] == "assistant"
        assert content_of(decoded) == "slow start"


# Client disconnects cancel generation

SLOW_WORDS = 30
SLOW_DELAY = 0.1
SLOW_REPLY = {"text": " ".join(f"w{i}" for i in range(SLOW_WORDS)), "delay": SLOW_DELAY}


def assert_stopped_early(api: Api, conversation_id: str, started: float) -> None:
    """The reply was settled short, and stays so past when the full script would end."""
    stored = api.wait_for(conversation_id, lambda ms: ms[-1]["content"] != "")
    partial = stored[-1]
    assert partial["role"] == "assistant"
    assert partial["status"] == "incomplete"
    assert 0 < words(partial["content"]) < SLOW_WORDS
    # Had generation gone on, the full reply would be stored as complete by now.
    time.sleep(max(0.0, started + SLOW_WORDS * SLOW_DELAY + 1.0 - time.monotonic()))
    later = api.messages(conversation_id)[-1]
    assert (later["content"], later["status"]) == (partial["content"], "incomplete")
    assert len(api.received()) == 1


def test_disconnect_mid_stream_cancels_generation(launch: Launcher) -> None:
    with launch([SLOW_REPLY]) as api:
        started = time.monotonic()
        body = {"messages": [{"role": "user", "content": "talk"}], "stream": True, "store": True}
        with api.http.stream("POST", "/v1/chat/completions", json=body) as response:
            conversation_id = response.headers["x-habla-conversation-id"]
            seen = 0
            for line in response.iter_lines():
                if line.startswith("data: ") and '"content": "w' in line:
                    seen += 1
                    if seen == 2:
                        break
        assert seen == 2
        assert_stopped_early(api, conversation_id, started)


def test_client_timeout_on_chat_cancels_generation(launch: Launcher) -> None:
    with launch([SLOW_REPLY]) as api:
        started = time.monotonic()
        timeout = httpx.Timeout(10.0, read=0.5)
        with (
            httpx.Client(base_url=api.url, timeout=timeout) as impatient,
            pytest.raises(httpx.ReadTimeout),
        ):
            impatient.post("/chat", json={"prompt": "talk"})
        [conversation] = api.conversations()
        assert_stopped_early(api, conversation["id"], started)


def test_stream_chunks_are_valid_json_lines(launch: Launcher) -> None:
    with launch(["naïve “quotes” 日本 \\ back\tslash"]) as api:
        _, raw = stream_raw(api)
        for event in sse_events(raw)[:-1]:
            json.loads(event)
        assert content_of(data_events(raw)) == "naïve “quotes” 日本 \\ back\tslash"


def test_disconnect_while_waiting_for_first_token_cancels(launch: Launcher) -> None:
    slow_start = {"text": "slow reply", "delay": 1.5}
    with launch([slow_start], sse_keepalive_seconds=0.2) as api:
        started = time.monotonic()
        body = {"messages": [{"role": "user", "content": "hi"}], "stream": True, "store": True}
        with api.http.stream("POST", "/v1/chat/completions", json=body) as response:
            conversation_id = response.headers["x-habla-conversation-id"]
            for line in response.iter_lines():
                if line == ": keep-alive":
                    break
        # Had generation gone on, both words would be stored, complete, by now.
        time.sleep(max(0.0, started + 2 * 1.5 + 1.0 - time.monotonic()))
        reply = api.messages(conversation_id)[-1]
        assert reply["role"] == "assistant"
        assert reply["status"] == "incomplete"
        assert reply["content"] in ("", "slow ")


def test_concurrent_stored_requests_all_succeed(launch: Launcher) -> None:
    replies = [{"text": f"reply {i} " + "word " * 10, "delay": 0.01} for i in range(6)]
    with launch(replies) as api:

        def one(index: int) -> int:
            body = {"messages": [{"role": "user", "content": f"q{index}"}], "store": True}
            if index % 2:
                _, raw = stream_raw(api, **body)
                assert data_events(raw)[-1] == "[DONE]"
                return 200
            return api.http.post("/v1/chat/completions", json=body).status_code

        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(one, range(6)))
        assert statuses == [200] * 6
        conversations = api.conversations()
        assert len(conversations) == 6
        for conversation in conversations:
            stored = api.messages(conversation["id"])
            assert [(m["role"], m["status"]) for m in stored] == [
                ("user", "complete"),
                ("assistant", "complete"),
            ]
            assert words(stored[1]["content"]) == 12
