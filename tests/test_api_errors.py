"""Bad input over real HTTP: every case gets a clear 4xx in OpenAI's error shape, never a
5xx, and nothing reaches the store or the model (SEC-INPUT, LLM10)."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from habla.settings import Settings
from test_api_support import Api, Launcher, assert_openai_error

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


@pytest.fixture
def launch(
    make_settings: Callable[..., Settings], write_script: Callable[..., Path], tmp_path: Path
) -> Launcher:
    return Launcher(make_settings, write_script, tmp_path)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that records whether anything connected to it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def image_message(url: str) -> dict[str, Any]:
    return user([{"type": "text", "text": "what is this?"}, image(url)])


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def assert_nothing_happened(api: Api) -> None:
    assert api.conversations() == []
    assert api.received() == []


OMIT = object()  # leave the field out of the request altogether

# (case id, body, status, param, code); every body asks to be stored.
COMPLETION_CASES: list[tuple[str, dict[str, Any], int, str | None, str | None]] = [
    ("messages-empty", {"messages": []}, 400, "messages", "invalid_request"),
    ("messages-missing", {"messages": OMIT}, 400, "messages", "invalid_request"),
    ("messages-string", {"messages": "hello"}, 400, "messages", "invalid_request"),
    ("message-not-object", {"messages": ["hello"]}, 400, "messages.0", "invalid_request"),
    ("role-unknown", {"messages": [{"role": "wizard", "content": "hi"}]}, 400, None, None),
    ("role-missing", {"messages": [{"content": "hi"}]}, 400, None, None),
    ("content-number", {"messages": [user(42)]}, 400, None, None),
    ("content-object", {"messages": [user({"text": "hi"})]}, 400, None, None),
    ("content-null", {"messages": [user(None)]}, 400, "messages[0].content", None),
    ("part-unknown-type", {"messages": [user([{"type": "audio", "x": 1}])]}, 400, None, None),
    ("only-system", {"messages": [{"role": "system", "content": "x"}]}, 400, "messages", None),
    ("model-unknown", {"model": "scripted:nope"}, 404, "model", "model_not_found"),
    ("model-bad-id", {"model": "../../etc/passwd"}, 404, "model", "model_not_found"),
    ("persona-unknown", {"persona": "ghost"}, 400, "persona", "invalid_request"),
    ("max-tokens-absurd", {"max_tokens": 10**9}, 400, "max_tokens", "input_too_large"),
    ("max-tokens-zero", {"max_tokens": 0}, 400, "max_tokens", "invalid_request"),
    ("max-tokens-text", {"max_tokens": "many"}, 400, "max_tokens", "invalid_request"),
    ("max-tokens-float", {"max_tokens": 1.5}, 400, "max_tokens", "invalid_request"),
    ("max-completion-absurd", {"max_completion_tokens": 10**9}, 400, "max_tokens", None),
    ("temperature-negative", {"temperature": -0.5}, 400, "temperature", "invalid_request"),
    ("temperature-huge", {"temperature": 1e308}, 400, "temperature", "invalid_request"),
    ("temperature-text", {"temperature": "hot"}, 400, "temperature", "invalid_request"),
    ("top-p-zero", {"top_p": 0}, 400, "top_p", "invalid_request"),
    ("n-two", {"n": 2}, 400, "n", "invalid_request"),
    ("stop-five", {"stop": ["a", "b", "c", "d", "e"]}, 400, "stop", "invalid_request"),
    ("stop-empty", {"stop": [""]}, 400, "stop", "invalid_request"),
    ("seed-negative", {"seed": -1}, 400, "seed", "invalid_request"),
    ("stream-text", {"stream": "yes please"}, 400, "stream", "invalid_request"),
    ("conversation-id-long", {"conversation_id": "x" * 65}, 400, "conversation_id", None),
    (
        "image-bad-base64",
        {"messages": [image_message("data:image/png;base64,@@@@")]},
        400,
        None,
        None,
    ),
    ("image-not-base64", {"messages": [image_message("data:image/png,rawbytes")]}, 400, None, None),
    (
        "image-svg",
        {"messages": [image_message("data:image/svg+xml;base64,PHN2Zz4=")]},
        400,
        None,
        None,
    ),
    (
        "image-from-assistant",
        {"messages": [{"role": "assistant", "content": [image(PNG_URL)]}, user("hi")]},
        400,
        "messages[0].content[0]",
        None,
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "param", "code"),
    [pytest.param(*case[1:], id=case[0]) for case in COMPLETION_CASES],
)
def test_bad_completion_request_is_4xx_and_stores_nothing(
    launch: Launcher, body: dict[str, Any], status: int, param: str | None, code: str | None
) -> None:
    with launch() as api:
        full = {"messages": [user("hello")], "store": True, **body}
        full = {key: value for key, value in full.items() if value is not OMIT}
        for stream in (False, True):
            response = api.http.post("/v1/chat/completions", json={"stream": stream, **full})
            assert_openai_error(response, status, param=param, code=code)
        assert_nothing_happened(api)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"messages": [', id="truncated"),
        pytest.param(b"not json at all", id="garbage"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe\x00", id="not-utf8"),
        pytest.param(b'[{"role": "user", "content": "hi"}]', id="array"),
        pytest.param(b'"hello"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b"42", id="number"),
        pytest.param(
            b'{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}', id="nan"
        ),
        pytest.param(
            b'{"messages": [{"role": "user", "content": "hi"}], "temperature": -Infinity}',
            id="-inf",
        ),
    ],
)
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/chat"])
def test_malformed_body_is_400(launch: Launcher, raw: bytes, path: str) -> None:
    with launch() as api:
        response = api.http.post(path, content=raw, headers={"content-type": "application/json"})
        assert_openai_error(response, 400)
        assert_nothing_happened(api)


def test_malformed_json_says_so(launch: Launcher) -> None:
    with launch() as api:
        response = api.http.post(
            "/v1/chat/completions", content=b"{oops", headers={"content-type": "application/json"}
        )
        error = assert_openai_error(response, 400, code="invalid_request")
        assert "JSON" in error["message"]


HELLO = b'{"role": "user", "content": "hi"}'
# JSON can escape a lone surrogate, which no store or tokenizer can encode.
SURROGATE_BODIES = [
    (b'{"messages": [{"role": "user", "content": "a \\ud800 b"}], "store": true}', "content"),
    (b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "\\udfff"}]}]}', "text"),
    (b'{"messages": [' + HELLO + b'], "stop": ["\\ud800"], "store": true}', "stop"),
    (b'{"messages": [' + HELLO + b'], "conversation_id": "\\ud800"}', "conversation_id"),
    (b'{"messages": [' + HELLO + b'], "user": {"\\ud800": 1}, "store": true}', "user"),
    (b'{"messages": [{"role": "user", "content": "hi", "name": "\\ud800"}]}', "name"),
]


@pytest.mark.parametrize(("raw", "where"), SURROGATE_BODIES, ids=[w for _, w in SURROGATE_BODIES])
def test_lone_surrogates_are_400_not_500(launch: Launcher, raw: bytes, where: str) -> None:
    with launch() as api:
        response = api.http.post(
            "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
        )
        error = assert_openai_error(response, 400, code="invalid_request")
        assert where in error["message"]
        chat = api.http.post(
            "/chat", content=b'{"prompt": "\\ud800"}', headers={"content-type": "application/json"}
        )
        assert_openai_error(chat, 400, param="prompt")
        assert_nothing_happened(api)


@pytest.mark.parametrize(("depth", "status"), [(500, 200), (100_000, 400)])
def test_deeply_nested_unknown_field_is_never_5xx(
    launch: Launcher, depth: int, status: int
) -> None:
    raw = b'{"messages": [' + HELLO + b'], "user": ' + b"[" * depth + b"]" * depth + b"}"
    with launch() as api:
        response = api.http.post(
            "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == status, response.text
        if status != 200:
            assert_openai_error(response, status)


CHAT_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("extra-field", {"prompt": "hi", "stream": True}, None),
    ("prompt-empty", {"prompt": ""}, "prompt"),
    ("prompt-missing", {}, "prompt"),
    ("prompt-list", {"prompt": ["hi"]}, "prompt"),
    ("temperature-negative", {"prompt": "hi", "temperature": -1}, "temperature"),
    ("max-tokens-absurd", {"prompt": "hi", "max_tokens": 10**9}, "max_tokens"),
    ("persona-unknown", {"prompt": "hi", "persona": "ghost"}, "persona"),
]


@pytest.mark.parametrize(
    ("body", "param"), [pytest.param(*case[1:], id=case[0]) for case in CHAT_CASES]
)
def test_bad_chat_request_is_400_and_stores_nothing(
    launch: Launcher, body: dict[str, Any], param: str | None
) -> None:
    with launch() as api:
        assert_openai_error(api.http.post("/chat", json=body), 400, param=param)
        assert_nothing_happened(api)


def test_chat_unknown_model_is_404(launch: Launcher) -> None:
    with launch() as api:
        response = api.http.post("/chat", json={"prompt": "hi", "model": "echo:not-served"})
        assert_openai_error(response, 404, param="model", code="model_not_found")
        assert_nothing_happened(api)


def test_completion_tolerates_unknown_openai_fields(launch: Launcher) -> None:
    with launch() as api:
        response = api.completion(
            user="x",
            logit_bias={},
            frequency_penalty=0,
            parallel_tool_calls=False,
            metadata={"k": "v"},
            messages=[{"role": "user", "content": "hi", "name": "bob", "extra": 1}],
        )
        assert response.status_code == 200, response.text
        assert len(api.received()) == 1


def test_tools_in_a_request_are_never_acted_on(launch: Launcher) -> None:
    """OWASP LLM06: habla executes nothing. A client's tool definitions are accepted for
    compatibility, never reach the model as instructions and never come back as calls."""
    tool = {
        "type": "function",
        "function": {"name": "delete_everything", "parameters": {"type": "object"}},
    }
    with launch(["plain words"]) as api:
        response = api.completion(tools=[tool], tool_choice="required")
        assert response.status_code == 200, response.text
        choice = response.json()["choices"][0]
        assert choice["finish_reason"] == "stop"
        assert choice["message"]["content"] == "plain words"
        assert not choice["message"].get("tool_calls")
        (received,) = api.received()
        assert "delete_everything" not in json.dumps(received)


def test_remote_image_url_is_rejected_without_fetching(
    launch: Launcher, listener: socket.socket
) -> None:
    host, port = listener.getsockname()
    url = f"http://{host}:{port}/cat.png"
    with launch() as api:
        response = api.completion(store=True, messages=[image_message(url)])
        error = assert_openai_error(response, 400, param="messages[0].content[1]")
        assert "data:" in error["message"]
        assert_nothing_happened(api)
    assert not connected(listener)


def test_inline_image_reaches_a_vision_model(launch: Launcher) -> None:
    with launch() as api:
        response = api.completion(messages=[image_message(PNG_URL)])
        assert response.status_code == 200, response.text
        [sent] = api.received()[0]["messages"][1:]
        assert sent["images"] == [{"mime": "image/png", "bytes": len(PNG)}]


def test_image_to_text_only_model_is_400(launch: Launcher, listener: socket.socket) -> None:
    host, port = listener.getsockname()
    overrides: dict[str, Any] = {
        "models": ["openai:text-only"],
        "openai_api_key": "unused",
        "openai_base_url": f"http://{host}:{port}/v1",
        "openai_max_retries": 0,
    }
    with launch(**overrides) as api:
        response = api.completion(
            model="openai:text-only", store=True, messages=[image_message(PNG_URL)]
        )
        assert_openai_error(response, 400, param="messages", code="unsupported_feature")
        assert_nothing_happened(api)
    assert not connected(listener)


# Body size


def test_body_over_limit_with_content_length_is_413(launch: Launcher) -> None:
    with launch(max_body_bytes=2048) as api:
        body = {"messages": [user("x" * 4000)], "store": True}
        response = api.http.post("/v1/chat/completions", json=body)
        assert_openai_error(response, 413, code="request_too_large")
        assert_nothing_happened(api)
        small = api.completion(messages=[user("x" * 1000)])
        assert small.status_code == 200, small.text


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/chat"])
def test_chunked_body_over_limit_is_413(launch: Launcher, path: str) -> None:
    payload = json.dumps({"messages": [user("y" * 6000)], "prompt": "z" * 10}).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 500):
            yield payload[start : start + 500]

    with launch(max_body_bytes=2048) as api:
        response = api.http.post(
            path, content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert_openai_error(response, 413, code="request_too_large")
        assert_nothing_happened(api)


# Routing errors


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/chat/completions"),
        ("PUT", "/chat"),
        ("POST", "/v1/models"),
        ("POST", "/v1/conversations"),
        ("DELETE", "/healthz"),
    ],
)
def test_wrong_method_is_405_in_error_shape(launch: Launcher, method: str, path: str) -> None:
    with launch() as api:
        response = api.http.request(method, path)
        assert_openai_error(response, 405, code="method_not_allowed")
        assert "allow" in response.headers


@pytest.mark.parametrize("path", ["/nope", "/v1/chat", "/v1/conversations/x/y/z", "/v1/../etc"])
def test_unknown_path_is_404_in_error_shape(launch: Launcher, path: str) -> None:
    with launch() as api:
        assert_openai_error(api.http.get(path), 404, code="not_found")
