"""The HTTP API end to end, non-streaming: ``POST /chat``, ``POST /v1/chat/completions``,
the conversations endpoints, health and the model list — real HTTP against a real server
with the scripted backend and SQLite under tmp_path."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from habla.settings import Settings
from test_api_support import MODEL, POLL_SECONDS, Launcher, assert_openai_error


@pytest.fixture
def launch(
    make_settings: Callable[..., Settings], write_script: Callable[..., Path], tmp_path: Path
) -> Launcher:
    return Launcher(make_settings, write_script, tmp_path)


# POST /chat


def test_chat_round_trip_and_continuation(launch: Launcher) -> None:
    with launch(["First answer.", "Second answer."]) as api:
        first = api.http.post("/chat", json={"prompt": "What is habla?"})
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["reply"] == "First answer."
        assert body["model"] == MODEL
        assert body["finish_reason"] == "stop"
        assert body["omitted_turns"] == 0
        assert body["notice"] is None
        usage = body["usage"]
        assert usage["completion_tokens"] > 0
        assert usage["prompt_tokens"] > 0
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        conversation_id = body["conversation_id"]
        assert isinstance(conversation_id, str)
        assert conversation_id

        second = api.http.post(
            "/chat", json={"prompt": "And then?", "conversation_id": conversation_id}
        )
        assert second.status_code == 200, second.text
        assert second.json()["reply"] == "Second answer."
        assert second.json()["conversation_id"] == conversation_id

        received = api.received()
        assert len(received) == 2
        sent = [(m["role"], m["text"]) for m in received[1]["messages"]]
        assert sent[0][0] == "system"
        assert sent[1:] == [
            ("user", "What is habla?"),
            ("assistant", "First answer."),
            ("user", "And then?"),
        ]
        stored = api.messages(conversation_id)
        assert [(m["role"], m["content"], m["status"]) for m in stored] == [
            ("user", "What is habla?", "complete"),
            ("assistant", "First answer.", "complete"),
            ("user", "And then?", "complete"),
            ("assistant", "Second answer.", "complete"),
        ]


def test_chat_unknown_conversation_is_404(launch: Launcher) -> None:
    with launch() as api:
        response = api.http.post("/chat", json={"prompt": "hi", "conversation_id": "nope"})
        assert_openai_error(response, 404, code="not_found")
        assert api.received() == []
        assert api.conversations() == []


def test_chat_with_named_persona_uses_its_prompt(launch: Launcher) -> None:
    with launch(personas={"pirate": "You talk like a pirate."}) as api:
        response = api.http.post("/chat", json={"prompt": "hi", "persona": "pirate"})
        assert response.status_code == 200, response.text
        system = api.received()[0]["messages"][0]
        assert system["role"] == "system"
        # The persona's prompt, then its canary (docs/privacy.md).
        assert system["text"].startswith("You talk like a pirate.\n\n")
        assert "hbl-canary-" in system["text"]
        assert api.conversations()[0]["persona"] == "pirate"


# POST /v1/chat/completions, non-streaming


def test_completion_has_openai_shape(launch: Launcher) -> None:
    with launch(["Hi, I am scripted."]) as api:
        response = api.completion(model=MODEL)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"].startswith("chatcmpl-")
        assert body["object"] == "chat.completion"
        assert isinstance(body["created"], int)
        assert body["model"] == MODEL
        [choice] = body["choices"]
        assert choice["index"] == 0
        assert choice["message"]["role"] == "assistant"
        assert choice["message"]["content"] == "Hi, I am scripted."
        assert choice["finish_reason"] == "stop"
        usage = body["usage"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert usage["completion_tokens"] > 0
        assert body["habla"] == {"conversation_id": None, "omitted_turns": 0, "notice": None}
        assert response.headers["x-habla-omitted-turns"] == "0"
        assert "x-habla-conversation-id" not in response.headers


def test_completion_without_store_stores_nothing(launch: Launcher) -> None:
    with launch() as api:
        response = api.completion()
        assert response.status_code == 200, response.text
        assert response.json()["habla"]["conversation_id"] is None
        assert api.conversations() == []
        assert len(api.received()) == 1


def test_completion_store_and_continue(launch: Launcher) -> None:
    with launch(["One.", "Two."]) as api:
        first = api.completion(store=True, messages=[{"role": "user", "content": "Count."}])
        assert first.status_code == 200, first.text
        conversation_id = first.json()["habla"]["conversation_id"]
        assert conversation_id
        assert first.headers["x-habla-conversation-id"] == conversation_id
        [listed] = api.conversations()
        assert listed["id"] == conversation_id
        assert listed["title"] == "Count."

        second = api.completion(
            conversation_id=conversation_id, messages=[{"role": "user", "content": "More."}]
        )
        assert second.status_code == 200, second.text
        assert second.json()["choices"][0]["message"]["content"] == "Two."
        assert second.json()["habla"]["conversation_id"] == conversation_id
        texts = [m["text"] for m in api.received()[1]["messages"][1:]]
        assert texts == ["Count.", "One.", "More."]
        assert [m["content"] for m in api.messages(conversation_id)] == [
            "Count.",
            "One.",
            "More.",
            "Two.",
        ]


def test_completion_unknown_conversation_is_404(launch: Launcher) -> None:
    with launch() as api:
        response = api.completion(conversation_id="does-not-exist")
        assert_openai_error(response, 404, code="not_found")
        assert api.received() == []


def test_completion_system_message_replaces_persona_and_is_not_stored(launch: Launcher) -> None:
    with launch() as api:
        messages = [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "hi"},
        ]
        response = api.completion(store=True, messages=messages)
        assert response.status_code == 200, response.text
        assert api.received()[0]["messages"][0]["text"] == "Be terse."
        conversation_id = response.json()["habla"]["conversation_id"]
        assert [m["role"] for m in api.messages(conversation_id)] == ["user", "assistant"]


# Conversations API


def test_conversations_list_get_rename_delete(launch: Launcher) -> None:
    with launch(["A1", "B1", "B2"]) as api:
        older = api.http.post("/chat", json={"prompt": "first chat"}).json()["conversation_id"]
        newer = api.http.post("/chat", json={"prompt": "second chat"}).json()["conversation_id"]
        api.http.post("/chat", json={"prompt": "again", "conversation_id": newer})

        listed = api.conversations()
        assert [c["id"] for c in listed] == [newer, older]
        assert [c["title"] for c in listed] == ["second chat", "first chat"]
        assert all(c["model"] == MODEL and c["persona"] == "default" for c in listed)

        one = api.http.get(f"/v1/conversations/{newer}")
        assert one.status_code == 200
        assert one.json()["id"] == newer
        roles_texts = [(m["role"], m["content"]) for m in one.json()["messages"]]
        assert roles_texts == [
            ("user", "second chat"),
            ("assistant", "B1"),
            ("user", "again"),
            ("assistant", "B2"),
        ]
        assert [m["id"] for m in one.json()["messages"]] == [m["id"] for m in api.messages(newer)]

        renamed = api.http.patch(f"/v1/conversations/{older}", json={"title": "Renamed"})
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["title"] == "Renamed"
        assert api.http.get(f"/v1/conversations/{older}").json()["title"] == "Renamed"
        strict = api.http.patch(f"/v1/conversations/{older}", json={"title": "x", "pinned": True})
        assert_openai_error(strict, 400)
        empty = api.http.patch(f"/v1/conversations/{older}", json={"title": ""})
        assert_openai_error(empty, 400, param="title")

        deleted = api.http.delete(f"/v1/conversations/{older}")
        assert deleted.status_code == 204
        assert deleted.content == b""
        assert_openai_error(api.http.get(f"/v1/conversations/{older}"), 404, code="not_found")
        assert_openai_error(api.http.delete(f"/v1/conversations/{older}"), 404)
        gone = api.http.patch(f"/v1/conversations/{older}", json={"title": "back"})
        assert_openai_error(gone, 404)
        assert_openai_error(api.http.get(f"/v1/conversations/{older}/messages"), 404)
        assert [c["id"] for c in api.conversations()] == [newer]


def test_conversation_list_limit_is_validated(launch: Launcher) -> None:
    with launch() as api:
        error = assert_openai_error(api.http.get("/v1/conversations?limit=0"), 400)
        assert error["param"].endswith("limit")
        assert_openai_error(api.http.get("/v1/conversations?limit=x"), 400)


# Health and models


def test_health_ready_and_models(launch: Launcher) -> None:
    with launch(models=["echo:echo"]) as api:
        health = api.http.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        deadline = time.monotonic() + POLL_SECONDS
        ready = api.http.get("/readyz")
        while ready.status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
            ready = api.http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "model": MODEL}

        models = api.http.get("/v1/models")
        assert models.status_code == 200
        assert models.json()["object"] == "list"
        data = models.json()["data"]
        assert [m["id"] for m in data] == [MODEL, "echo:echo"]
        assert all(m["object"] == "model" for m in data)


def test_completion_with_a_second_served_model(launch: Launcher) -> None:
    with launch(models=["echo:echo"]) as api:
        response = api.completion(model="echo:echo", messages=[{"role": "user", "content": "ping"}])
        assert response.status_code == 200, response.text
        assert response.json()["model"] == "echo:echo"
        assert response.json()["choices"][0]["message"]["content"] == "ping"
        assert api.received() == []  # the scripted default was not asked
