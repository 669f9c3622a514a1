"""History trimming over real HTTP: a small context window drops the oldest turns, says
so (body, header, notice), and sends the backend only what fits; a single message too
big for the window is a 400 that stores nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from habla.settings import Settings
from test_api_support import Api, Launcher, assert_openai_error, data_events

WINDOW = 120
BUDGET = 20  # max_tokens per request, reserved for the reply
PROMPTS = [f"Question number {i}: tell me something." for i in range(5)]
REPLIES = [f"Answer number {i}: here is something." for i in range(5)]


@pytest.fixture
def launch(
    make_settings: Callable[..., Settings], write_script: Callable[..., Path], tmp_path: Path
) -> Launcher:
    return Launcher(make_settings, write_script, tmp_path)


def sent_turns(api: Api, request_index: int) -> list[tuple[str, str]]:
    return [(m["role"], m["text"]) for m in api.received()[request_index]["messages"]]


def full_history(upto: int) -> list[tuple[str, str]]:
    history: list[tuple[str, str]] = []
    for i in range(upto):
        history += [("user", PROMPTS[i]), ("assistant", REPLIES[i])]
    return history


def assert_trimmed(api: Api, omitted: int, notice: Any, turns: int) -> None:
    """The last request left out ``omitted`` turns, said so, and sent only the rest."""
    assert omitted > 0
    assert isinstance(notice, str)
    assert str(omitted) in notice
    assert notice.endswith(".")
    assert re.match(r"^\d+ earlier turns? (was|were) left out", notice), notice
    sent = sent_turns(api, turns - 1)
    assert sent[0][0] == "system"
    expected = [*full_history(turns - 1)[2 * omitted :], ("user", PROMPTS[turns - 1])]
    assert sent[1:] == expected
    # Nothing was lost from the store: trimming only changes what the model sees.
    conversation_id = api.conversations()[0]["id"]
    stored = [(m["role"], m["content"]) for m in api.messages(conversation_id)]
    assert stored == full_history(turns)


def test_chat_trims_oldest_turns(launch: Launcher) -> None:
    with launch(REPLIES, context_window=WINDOW) as api:
        conversation_id: str | None = None
        body: dict[str, Any] = {}
        for prompt in PROMPTS:
            response = api.http.post(
                "/chat",
                json={"prompt": prompt, "conversation_id": conversation_id, "max_tokens": BUDGET},
            )
            assert response.status_code == 200, response.text
            body = response.json()
            conversation_id = body["conversation_id"]
        assert_trimmed(api, body["omitted_turns"], body["notice"], len(PROMPTS))


def test_completions_trim_and_report_in_header(launch: Launcher) -> None:
    with launch(REPLIES, context_window=WINDOW) as api:
        conversation_id: str | None = None
        response = None
        for prompt in PROMPTS:
            response = api.completion(
                messages=[{"role": "user", "content": prompt}],
                conversation_id=conversation_id,
                store=True,
                max_tokens=BUDGET,
            )
            assert response.status_code == 200, response.text
            conversation_id = response.json()["habla"]["conversation_id"]
        assert response is not None
        habla = response.json()["habla"]
        assert response.headers["x-habla-omitted-turns"] == str(habla["omitted_turns"])
        assert_trimmed(api, habla["omitted_turns"], habla["notice"], len(PROMPTS))


def test_streamed_reply_reports_trimming_up_front(launch: Launcher) -> None:
    with launch(REPLIES, context_window=WINDOW) as api:
        conversation_id = None
        for prompt in PROMPTS[:-1]:
            response = api.http.post(
                "/chat",
                json={"prompt": prompt, "conversation_id": conversation_id, "max_tokens": BUDGET},
            )
            conversation_id = response.json()["conversation_id"]
        body = {
            "messages": [{"role": "user", "content": PROMPTS[-1]}],
            "conversation_id": conversation_id,
            "max_tokens": BUDGET,
            "stream": True,
        }
        with api.http.stream("POST", "/v1/chat/completions", json=body) as streamed:
            raw = streamed.read().decode()
        first = data_events(raw)[0]
        omitted = first["habla"]["omitted_turns"]
        assert streamed.headers["x-habla-omitted-turns"] == str(omitted)
        assert_trimmed(api, omitted, first["habla"]["notice"], len(PROMPTS))


def test_no_trimming_means_no_notice(launch: Launcher) -> None:
    with launch(REPLIES) as api:
        conversation_id = None
        for prompt in PROMPTS:
            response = api.http.post(
                "/chat", json={"prompt": prompt, "conversation_id": conversation_id}
            )
            conversation_id = response.json()["conversation_id"]
            assert response.json()["omitted_turns"] == 0
            assert response.json()["notice"] is None
        assert len(api.received()[-1]["messages"]) == 1 + 2 * len(PROMPTS) - 1


@pytest.mark.parametrize("path", ["/chat", "/v1/chat/completions"])
def test_single_message_too_big_for_window_is_400(launch: Launcher, path: str) -> None:
    huge = "word " * 200
    body: dict[str, Any] = {"max_tokens": BUDGET}
    if path == "/chat":
        body["prompt"] = huge
    else:
        body.update(messages=[{"role": "user", "content": huge}], store=True)
    with launch(REPLIES, context_window=WINDOW) as api:
        response = api.http.post(path, json=body)
        error = assert_openai_error(response, 400, param="messages", code="context_length_exceeded")
        assert str(WINDOW) in error["message"]
        assert api.conversations() == []
        assert api.received() == []


def test_reply_budget_larger_than_window_is_400(launch: Launcher) -> None:
    with launch(REPLIES, context_window=WINDOW) as api:
        response = api.http.post("/chat", json={"prompt": "hi", "max_tokens": WINDOW + 1})
        assert_openai_error(response, 400, code="context_length_exceeded")
        assert api.conversations() == []


def test_too_big_message_in_existing_conversation_keeps_it_intact(launch: Launcher) -> None:
    with launch(REPLIES, context_window=WINDOW) as api:
        first = api.http.post("/chat", json={"prompt": PROMPTS[0], "max_tokens": BUDGET})
        conversation_id = first.json()["conversation_id"]
        response = api.http.post(
            "/chat",
            json={
                "prompt": "word " * 200,
                "conversation_id": conversation_id,
                "max_tokens": BUDGET,
            },
        )
        assert_openai_error(response, 400, code="context_length_exceeded")
        stored = [(m["role"], m["content"]) for m in api.messages(conversation_id)]
        assert stored == full_history(1)
        assert len(api.received()) == 1
