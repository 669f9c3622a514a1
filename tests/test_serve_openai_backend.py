"""Acceptance: with HABLA_DEFAULT_MODEL=openai:… and OPENAI_BASE_URL set, the same
request a user sends to the embedded model goes to the OpenAI-compatible server instead."""

from __future__ import annotations

from pathlib import Path

import httpx

from fakes.openai_server import Fail, FakeOpenAIServer, Reply
from servers import HablaProcess


def test_requests_go_to_the_configured_openai_compatible_server(tmp_path: Path) -> None:
    with FakeOpenAIServer(model="gpt-4o") as upstream:
        upstream.enqueue(Reply(text="Bonjour from upstream"), Fail(status=401))
        env = {
            "HABLA_DATA_DIR": str(tmp_path / "data"),
            "HABLA_DEFAULT_MODEL": "openai:gpt-4o",
            "OPENAI_API_KEY": "sk-test-secret-key-0123456789",
            "OPENAI_BASE_URL": upstream.base_url,
            "HABLA_OPENAI_MAX_RETRIES": "0",
        }
        with HablaProcess(env, log_path=tmp_path / "serve.log") as habla:
            body = {"messages": [{"role": "user", "content": "Say hello in French"}]}
            answer = httpx.post(habla.url + "/v1/chat/completions", json=body).json()
            rejected = httpx.post(habla.url + "/v1/chat/completions", json=body)
        sent = upstream.requests[0]
        key_header = upstream.headers[0]["authorization"]

    assert answer["model"] == "openai:gpt-4o"
    assert answer["choices"][0]["message"]["content"] == "Bonjour from upstream"
    assert sent["model"] == "gpt-4o"
    assert sent["messages"][-1] == {"role": "user", "content": "Say hello in French"}
    assert key_header == "Bearer sk-test-secret-key-0123456789"
    assert rejected.status_code == 502
    assert "sk-test-secret" not in rejected.text
    assert "sk-test-secret" not in (tmp_path / "serve.log").read_text()
