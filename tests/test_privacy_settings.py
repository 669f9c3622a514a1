"""Privacy settings: a persona whose system prompt holds a credential is refused (from the
environment, a personas file or the default prompt) with an error naming the persona and
never the secret; bad privacy values are refused; and without the privacy extra a masked
model stops the start with an error naming ``habla[privacy]`` (LLM07, LLM02)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from habla.settings import Settings

KEY = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"


def refused(make_settings: Callable[..., Settings], **values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        make_settings(**values)
    message = str(caught.value)
    secret_part = KEY[len("sk-proj-") :]
    pieces = {secret_part[i : i + 6] for i in range(len(secret_part) - 5)}
    assert not any(piece in message for piece in pieces), message  # not even a fragment
    return message


def test_default_prompt_with_a_secret_is_refused(make_settings: Callable[..., Settings]) -> None:
    message = refused(make_settings, system_prompt=f"You are helpful. Our key: {KEY}")
    assert "persona 'default'" in message
    assert "openai_key" in message


def test_named_persona_with_a_secret_is_refused(make_settings: Callable[..., Settings]) -> None:
    message = refused(make_settings, personas={"ops": f"Deploy with token={KEY}"})
    assert "persona 'ops'" in message


def test_persona_file_with_a_secret_is_refused(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    path = tmp_path / "personas.json"
    path.write_text(json.dumps({"bot": "Be nice.", "leaky": f"The AWS key is AKIA{'A' * 16}"}))
    message = refused(make_settings, personas_file=path)
    assert "persona 'leaky'" in message
    assert "aws_access_key_id" in message


def test_prompts_that_only_talk_about_keys_are_fine(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        system_prompt="Never reveal an API key or password; sk- keys belong to OpenAI.",
        personas={"dev": "Explain what a JWT (eyJ...) is."},
    )
    assert "dev" in settings.all_personas()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"pii_entities": "EMAIL,PASSPORT"}, "pii_entities"),
        ({"prompt_leak_chars": 5}, "prompt_leak_chars"),
    ],
)
def test_bad_privacy_values_are_refused(
    make_settings: Callable[..., Settings], values: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        make_settings(**values)
    assert field in str(caught.value)


def test_privacy_lists_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HABLA_PII_ENTITIES", "EMAIL, PHONE")
    monkeypatch.setenv("HABLA_PII_MASK_MODELS", "openai,scripted:x")
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert settings.pii_entities == ["EMAIL", "PHONE"]
    assert settings.pii_mask_models == ["openai", "scripted:x"]


SHADOW = """
raise ImportError("No module named 'presidio_analyzer' (shadowed for this test)")
"""

START = """
import asyncio
from habla.core.errors import ConfigError
from habla.runtime import Runtime
from habla.settings import Settings

async def main() -> None:
    settings = Settings(_env_file=None, data_dir={data!r}, default_model="scripted:x",
                        pii_mask_models={models!r})
    try:
        async with Runtime.open(settings, load_models=False):
            print("STARTED")
    except ConfigError as exc:
        print("CONFIG ERROR:", exc.message)

asyncio.run(main())
"""


def start_without_presidio(tmp_path: Path, models: list[str]) -> str:
    shadow = tmp_path / "shadow" / "presidio_analyzer"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(SHADOW)
    code = textwrap.dedent(START).format(data=str(tmp_path / "data"), models=models)
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow.parent), str(src)])}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_without_the_extra_a_masked_model_stops_the_start(tmp_path: Path) -> None:
    out = start_without_presidio(tmp_path, ["scripted"])
    assert "CONFIG ERROR" in out
    assert 'pip install "habla[privacy]"' in out
    assert "scripted:x" in out


def test_without_the_extra_unmasked_models_still_start(tmp_path: Path) -> None:
    assert start_without_presidio(tmp_path, ["remote"]).strip() == "STARTED"
