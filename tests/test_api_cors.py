"""CORS over real HTTP: closed unless an origin is configured, and then open only to it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from habla.settings import Settings
from test_api_support import Launcher

APP = "http://app.example"
EVIL = "http://evil.example"


@pytest.fixture
def launch(
    make_settings: Callable[..., Settings], write_script: Callable[..., Path], tmp_path: Path
) -> Launcher:
    return Launcher(make_settings, write_script, tmp_path)


def preflight(
    http: httpx.Client, origin: str, path: str = "/v1/chat/completions"
) -> httpx.Response:
    return http.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def test_cors_is_closed_by_default(launch: Launcher) -> None:
    with launch() as api:
        response = preflight(api.http, EVIL)
        assert "access-control-allow-origin" not in response.headers
        assert response.status_code < 500
        simple = api.http.get("/v1/models", headers={"Origin": EVIL})
        assert simple.status_code == 200
        assert "access-control-allow-origin" not in simple.headers


def test_cors_opens_for_configured_origin_only(launch: Launcher) -> None:
    with launch(cors_origins=[APP]) as api:
        allowed = preflight(api.http, APP)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == APP
        assert "POST" in allowed.headers["access-control-allow-methods"]

        refused = preflight(api.http, EVIL)
        assert refused.headers.get("access-control-allow-origin") != EVIL
        assert "access-control-allow-origin" not in refused.headers

        response = api.completion(store=True)
        assert response.status_code == 200
        actual = api.http.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "hi"}], "store": True},
            headers={"Origin": APP},
        )
        assert actual.headers["access-control-allow-origin"] == APP
        exposed = actual.headers["access-control-expose-headers"].lower()
        assert "x-habla-conversation-id" in exposed
        evil = api.http.get("/v1/models", headers={"Origin": EVIL})
        assert "access-control-allow-origin" not in evil.headers
