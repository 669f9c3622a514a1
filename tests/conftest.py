"""Shared fixtures. Tests are offline: pytest-socket (configured in pyproject) refuses any
connection outside 127.0.0.1 / ::1, and child processes get ``HF_HUB_OFFLINE=1``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from habla.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")

OUTPUT_DIR = Path(__file__).resolve().parent.parent / "test-output"


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings isolated from the developer's environment file, data under tmp_path."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"data_dir": tmp_path / "data", **overrides}
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
def write_script(tmp_path: Path) -> Callable[..., Path]:
    """Writes a scripted-backend script and returns its path."""

    def write(replies: list[Any], *, context_window: int = 8192, name: str = "script") -> Path:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"replies": replies, "context_window": context_window}))
        return path

    return write


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR
