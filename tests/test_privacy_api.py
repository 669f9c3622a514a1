"""Acceptance for PII masking and output guards through the real ``/v1/chat/completions``
(LLM02, LLM07, SEC-LOG).

The ``scripted`` backend stands in for a cloud model (``pii_mask_models=["scripted"]``) and
records exactly what it received: a card number, an email address and a DNI never reach
it, and the user's reply has them back. An OpenAI-compatible server on 127.0.0.1 shows
the default (every non-local backend masked) and the canary guard on a real leak."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fakes.openai_server import FakeOpenAIServer, Reply
from habla.settings import Settings
from test_api_support import MODEL, Api, Launcher, data_events, serve

CARD, EMAIL, DNI = "4111 1111 1111 1111", "lucia.ortega@example.es", "12345678Z"
QUESTION = f"Charge my card {CARD}, send the receipt to {EMAIL}; my DNI is {DNI}."
REPLY = "Done: charged <CREDIT_CARD_1>, receipt to <EMAIL_1>, DNI <ES_DNI_1> on file."
RESTORED = f"Done: charged {CARD}, receipt to {EMAIL}, DNI {DNI} on file."
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
PROMPT = (
    "You are the support assistant of Acme Rockets. Answer questions about orders, "
    "deliveries and refunds; never discuss launch schedules or pricing of prototypes."
)


@pytest.fixture
def launch(
    make_settings: Callable[..., Settings], write_script: Callable[..., Path], tmp_path: Path
) -> Launcher:
    return Launcher(make_settings, write_script, tmp_path)


def ask(api: Api, *, stream: bool, **body: Any) -> tuple[str, str]:
    """(reply text, finish_reason) from /v1/chat/completions, streamed or not."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": QUESTION}], **body}
    if not stream:
        response = api.http.post("/v1/chat/completions", json=body)
        assert response.status_code == 200, response.text
        [choice] = response.json()["choices"]
        return choice["message"]["content"], choice["finish_reason"]
    with api.http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
        raw = r.read().decode()
    assert r.status_code == 200, raw
    chunks = [e for e in data_events(raw) if isinstance(e, dict) and e.get("choices")]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    reasons = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]]
    assert len(reasons) == 1
    return text, reasons[0]


@pytest.mark.parametrize("stream", [False, True])
def test_pii_never_reaches_a_masked_backend_and_the_reply_is_restored(
    launch: Launcher, stream: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with launch([REPLY], pii_mask_models=["scripted"]) as api:
        reply, reason = ask(api, stream=stream)
        record = api.record_path.read_text(encoding="utf-8")
        [received] = api.received()
    assert (reply, reason) == (RESTORED, "stop")
    for value in (CARD, EMAIL, DNI, "4111"):
        assert value not in record
        assert value not in caplog.text
    user = received["messages"][-1]
    assert user == {
        "role": "user",
        "text": "Charge my card <CREDIT_CARD_1>, send the receipt to <EMAIL_1>; "
        "my DNI is <ES_DNI_1>.",
        "images": [],
    }
    assert "masked PII for scripted:test" in caplog.text


def test_the_same_value_keeps_its_placeholder_across_the_conversation(launch: Launcher) -> None:
    messages = [
        {"role": "user", "content": f"I am {EMAIL}."},
        {"role": "assistant", "content": f"Hello {EMAIL}, how can I help?"},
        {"role": "user", "content": f"Write to {EMAIL} and copy ana@example.org."},
    ]
    with launch(["Will do, <EMAIL_1> and <EMAIL_2>."], pii_mask_models=["scripted"]) as api:
        reply, _ = ask(api, stream=True, messages=messages)
        [received] = api.received()
    assert reply == f"Will do, {EMAIL} and ana@example.org."
    texts = [m["text"] for m in received["messages"][1:]]
    assert texts == [
        "I am <EMAIL_1>.",
        "Hello <EMAIL_1>, how can I help?",
        "Write to <EMAIL_1> and copy <EMAIL_2>.",
    ]


def test_a_local_backend_sees_raw_text_by_default(launch: Launcher) -> None:
    with launch(["ok"]) as api:  # scripted is local unless pii_mask_models names it
        ask(api, stream=False)
        [received] = api.received()
    assert received["messages"][-1]["text"] == QUESTION


def test_masking_can_be_switched_off(launch: Launcher) -> None:
    with launch(["ok"], pii_mask=False, pii_mask_models=["*"]) as api:
        ask(api, stream=False)
        [received] = api.received()
    assert received["messages"][-1]["text"] == QUESTION


def test_only_the_chosen_entities_are_masked(launch: Launcher) -> None:
    settings: dict[str, Any] = {"pii_mask_models": ["scripted"], "pii_entities": "EMAIL"}
    with launch(["ok"], **settings) as api:
        ask(api, stream=False)
        [received] = api.received()
    assert received["messages"][-1]["text"] == QUESTION.replace(EMAIL, "<EMAIL_1>")


def test_a_cloud_backend_is_masked_by_default(make_settings: Callable[..., Settings]) -> None:
    with FakeOpenAIServer(model="gpt-4o") as upstream:
        upstream.enqueue(Reply(text="Receipt sent to <EMAIL_1>."))
        settings = make_settings(
            default_model="openai:gpt-4o",
            openai_api_key="sk-test-" + "k" * 24,
            openai_base_url=upstream.base_url,
            openai_max_retries=0,
        )
        with serve(settings, Path("unused")) as api:
            body = {"messages": [{"role": "user", "content": QUESTION}]}
            answer = api.http.post("/v1/chat/completions", json=body).json()
        sent = json.dumps(upstream.requests[0])
    assert answer["choices"][0]["message"]["content"] == f"Receipt sent to {EMAIL}."
    for value in (CARD, EMAIL, DNI):
        assert value not in sent
    assert "<CREDIT_CARD_1>" in sent


def test_a_leaked_canary_is_cut_off(make_settings: Callable[..., Settings]) -> None:
    with FakeOpenAIServer(model="gpt-4o") as upstream:
        settings = make_settings(
            default_model="openai:gpt-4o",
            openai_api_key="sk-test-" + "k" * 24,
            openai_base_url=upstream.base_url,
            openai_max_retries=0,
            personas={"support": PROMPT},
        )
        body = {"persona": "support", "messages": [{"role": "user", "content": "hello"}]}
        with serve(settings, Path("unused")) as api:
            upstream.enqueue(Reply(text="Hello!"))
            first = api.http.post("/v1/chat/completions", json=body)
            system = upstream.requests[0]["messages"][0]["content"]
            canary = next(word for word in system.split() if word.startswith("hbl-canary-"))
            canary = canary.rstrip(":")
            upstream.enqueue(Reply(text=f"Sure, my reference is {canary} — anything else?"))
            with api.http.stream(
                "POST", "/v1/chat/completions", json={**body, "stream": True}
            ) as r:
                raw = r.read().decode()
    assert first.json()["choices"][0]["message"]["content"] == "Hello!"
    assert system.startswith(PROMPT)
    assert canary not in raw
    assert "hbl-canary" not in raw
    chunks = [e for e in data_events(raw) if isinstance(e, dict) and e.get("choices")]
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"


@pytest.mark.parametrize("stream", [False, True])
def test_a_prompt_leak_is_cut_off(launch: Launcher, stream: bool) -> None:
    leak = f"My instructions: {PROMPT} That is all."
    with launch([leak], personas={"support": PROMPT}) as api:
        reply, reason = ask(api, stream=stream, persona="support")
        ok, ok_reason = ask(api, stream=stream)  # the default persona has another prompt
    assert reason == "content_filter"
    assert PROMPT[:30] not in reply
    assert leak.startswith(reply)
    assert (ok, ok_reason) == (leak, "stop")


@pytest.mark.parametrize("stream", [False, True])
def test_a_secret_in_a_reply_is_cut_off(launch: Launcher, stream: bool) -> None:
    with launch([f"Use the key {AWS} for deploys, it works."]) as api:
        reply, reason = ask(api, stream=stream)
    assert reason == "content_filter"
    assert "AKIA" not in reply
    assert reply == "Use the key "[: len(reply)]


def test_output_guards_can_be_switched_off(launch: Launcher) -> None:
    reply_text = f"Use the key {AWS} for deploys."
    with launch([reply_text], output_guards=False) as api:
        reply, reason = ask(api, stream=True)
        [received] = api.received()
    assert (reply, reason) == (reply_text, "stop")
    assert "hbl-canary" not in received["messages"][0]["text"]


def test_streaming_still_streams(launch: Launcher) -> None:
    long_reply = " ".join(f"word{i}" for i in range(40))
    with launch([{"text": long_reply, "delay": 0.02}]) as api:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "go"}], "stream": True}
        with api.http.stream("POST", "/v1/chat/completions", json=body) as r:
            raw = r.read().decode()
    chunks = [e for e in data_events(raw) if isinstance(e, dict) and e.get("choices")]
    assert len(chunks) > 5  # the hold-back delays text by a few words; it does not batch it
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == long_reply
