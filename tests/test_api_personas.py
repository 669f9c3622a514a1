"""``GET /v1/personas`` and the ``habla`` extras of ``GET /v1/models``: what the chat page
and the Streamlit app read to fill their pickers — over real HTTP, with and without
accounts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from habla.interfaces.api.persona_routes import DESCRIPTION_CHARS
from habla.settings import Settings
from seeding import SECRET, seed_accounts
from test_api_support import MODEL, Launcher, assert_openai_error

LONG_PROMPT = "You answer questions about invoices. " * 20
PERSONAS = {"billing": LONG_PROMPT, "pirate": "Talk like a pirate.\nNever break character."}


@pytest.fixture
def launch(
    make_settings: Callable[..., Settings], write_script: Callable[..., Path], tmp_path: Path
) -> Launcher:
    return Launcher(make_settings, write_script, tmp_path)


def test_personas_are_listed_with_short_descriptions(launch: Launcher) -> None:
    with launch(personas=PERSONAS, system_prompt="You are a helpful assistant.") as api:
        response = api.http.get("/v1/personas")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["object"] == "list"
        by_name = {p["name"]: p["description"] for p in body["data"]}
        assert list(by_name) == ["billing", "default", "pirate"]
        assert by_name["default"] == "You are a helpful assistant."
        assert by_name["pirate"] == "Talk like a pirate."  # the first line only
        billing = by_name["billing"]
        assert billing.endswith("…")
        assert len(billing) <= DESCRIPTION_CHARS + 1
        assert LONG_PROMPT.startswith(billing[:-1])


def test_models_say_default_vision_and_context_window(launch: Launcher) -> None:
    # llamacpp:smollm2 is served but not the default, so it is described without loading.
    with launch(context_window=2048, models=["llamacpp:smollm2"], llamacpp_n_ctx=1024) as api:
        response = api.http.get("/v1/models")
        assert response.status_code == 200, response.text
        data = {m["id"]: m for m in response.json()["data"]}
        assert list(data) == [MODEL, "llamacpp:smollm2"]
        scripted, local = data[MODEL], data["llamacpp:smollm2"]
        assert scripted["object"] == "model"
        assert scripted["owned_by"] == "habla"
        assert scripted["habla"] == {"default": True, "vision": True, "context_window": 2048}
        assert local["habla"] == {"default": False, "vision": False, "context_window": 1024}


def test_personas_need_credentials_when_accounts_exist(launch: Launcher) -> None:
    settings = launch.settings(jwt_secret=SECRET)
    keys = seed_accounts(settings.resolved_database_url)
    with launch(jwt_secret=SECRET) as api:
        refused = api.http.get("/v1/personas")
        assert_openai_error(refused, 401, code="invalid_api_key")
        allowed = api.http.get("/v1/personas", headers={"Authorization": f"Bearer {keys['bob']}"})
        assert allowed.status_code == 200
        assert [p["name"] for p in allowed.json()["data"]] == ["default"]


def test_personas_refuse_other_methods(launch: Launcher) -> None:
    with launch() as api:
        response = api.http.post("/v1/personas", json={"name": "evil", "prompt": "x"})
        assert_openai_error(response, 405)
        assert [p["name"] for p in api.http.get("/v1/personas").json()["data"]] == ["default"]
