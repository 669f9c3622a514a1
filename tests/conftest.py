"""Shared fixtures. Tests are offline: pytest-socket (configured in pyproject) refuses any
connection outside 127.0.0.1 / ::1, and child processes get ``HF_HUB_OFFLINE=1``."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import logscrape
from habla.settings import Settings
from servers import OUTPUT_DIR

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SUITE_LOG = "pytest-suite.log"
_HANDLER = pytest.StashKey[logging.Handler]()


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


# -- the log scrape -----------------------------------------------------------------------
# Every log line of the run — this process's (at INFO, what operators run with) and every
# `habla serve` child's (their logs land in OUTPUT_DIR) — is scanned at the end for API
# keys, JWTs and the test passwords. A hit fails the run and names the file and line.


def pytest_configure(config: pytest.Config) -> None:
    OUTPUT_DIR.mkdir(exist_ok=True)
    for old in OUTPUT_DIR.glob("*.log"):  # a previous run's logs are not this run's
        old.unlink()
    handler = logging.FileHandler(OUTPUT_DIR / SUITE_LOG, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    config.stash[_HANDLER] = handler


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    handler = session.config.stash.get(_HANDLER, None)
    if handler is None:
        return
    logging.getLogger().removeHandler(handler)
    handler.close()
    leaks = logscrape.scan(sorted(OUTPUT_DIR.glob("*.log")))
    if leaks:
        report = "\n".join(leaks[:50])
        (OUTPUT_DIR / "log-scrape.txt").write_text(report + "\n", encoding="utf-8")
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"LOG SCRAPE FAILED: secrets in logs\n{report}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
