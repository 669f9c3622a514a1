"""Limits through HTTP: 429 with Retry-After and x-ratelimit-* headers; /v1/me/usage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from habla.interfaces.api.app import create_app
from habla.settings import Settings
from servers import ThreadedServer

CHAT = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 20}


def test_over_the_request_limit_is_a_429_that_says_when(
    make_settings: Callable[..., Settings], write_script: Callable[..., Path]
) -> None:
    settings = make_settings(
        default_model="scripted:t",
        scripted_file=write_script(["fine"]),
        admin_requests_per_minute=2,  # the local single user is an admin
        tokens_per_day=10_000,
    )
    with ThreadedServer(create_app(settings)) as server, httpx.Client(base_url=server.url) as http:
        first = http.post("/v1/chat/completions", json=CHAT)
        assert first.status_code == 200
        assert first.headers["x-ratelimit-limit-requests"] == "2"
        assert first.headers["x-ratelimit-remaining-requests"] == "1"
        assert first.headers["x-ratelimit-limit-tokens"] == "10000"
        assert http.post("/chat", json={"prompt": "again"}).status_code == 200
        refused = http.post("/v1/chat/completions", json=CHAT)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        error = refused.json()["error"]
        assert error["code"] == "rate_limit_exceeded"
        assert error["type"] == "rate_limit_error"
        usage = http.get("/v1/me/usage").json()
        assert usage["user"] == {"id": "local", "name": "local", "role": "admin"}
        assert usage["as_of"].endswith("Z")
        limits = usage["limits"]
        assert set(limits) == {
            "requests_per_minute",
            "concurrent_streams",
            "tokens_per_day",
            "tokens_per_month",
            "cost_per_day",
            "cost_per_month",
        }
        assert limits["requests_per_minute"]["used"] == 2
        assert limits["requests_per_minute"]["remaining"] == 0
        assert 1 <= limits["requests_per_minute"]["resets_in_seconds"] <= 60
        assert limits["tokens_per_day"]["limit"] == 10_000
        assert 0 < limits["tokens_per_day"]["used"] < 10_000
        assert limits["tokens_per_month"]["limit"] is None
        assert limits["tokens_per_month"]["remaining"] is None
        assert limits["cost_per_day"] == {
            "used": 0,
            "limit": None,
            "remaining": None,
            "resets_in_seconds": limits["cost_per_day"]["resets_in_seconds"],
        }
        me = http.get("/v1/me").json()
        assert me == {"id": "local", "name": "local", "role": "admin", "authenticated_by": "local"}


def test_a_spent_token_budget_is_insufficient_quota(
    make_settings: Callable[..., Settings], write_script: Callable[..., Path]
) -> None:
    settings = make_settings(
        default_model="scripted:t", scripted_file=write_script(["fine"]), tokens_per_day=50
    )
    with ThreadedServer(create_app(settings)) as server, httpx.Client(base_url=server.url) as http:
        refused = http.post("/v1/chat/completions", json={**CHAT, "max_tokens": 100})
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "insufficient_quota"
        assert "retry-after" in refused.headers
        assert http.get("/v1/conversations").json()["data"] == []
