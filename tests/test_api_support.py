"""Shared helpers for the HTTP API tests (``tests/test_api*.py``); holds no tests itself.

A test builds settings for the ``scripted`` backend (replies from a script, every request
it receives appended to a JSONL record file), serves ``create_app(settings)`` under a real
uvicorn on 127.0.0.1 and talks to it with a real ``httpx.Client``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

import scripted_record
from habla.interfaces.api.app import create_app
from habla.settings import Settings
from servers import ThreadedServer

MODEL = "scripted:test"
POLL_SECONDS = 15.0  # upper bound for polling loops; they normally end far sooner


@dataclass
class Api:
    """A running server, a client for it, and what the scripted backend received."""

    http: httpx.Client
    url: str
    record_path: Path

    def received(self) -> list[dict[str, Any]]:
        """Every request the scripted backend got, oldest first."""
        return scripted_record.received(self.record_path)

    def conversations(self) -> list[dict[str, Any]]:
        response = self.http.get("/v1/conversations")
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/v1/conversations/{conversation_id}/messages")
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def completion(self, **body: Any) -> httpx.Response:
        body.setdefault("messages", [{"role": "user", "content": "hello"}])
        return self.http.post("/v1/chat/completions", json=body)

    def wait_for(
        self, conversation_id: str, done: Callable[[list[dict[str, Any]]], bool]
    ) -> list[dict[str, Any]]:
        """Poll a conversation's messages until ``done`` holds (bounded)."""
        deadline = time.monotonic() + POLL_SECONDS
        while True:
            messages = self.messages(conversation_id)
            if done(messages) or time.monotonic() > deadline:
                return messages
            time.sleep(0.05)


class Launcher:
    """``launch(replies, ...)`` → a context manager yielding a running :class:`Api`."""

    def __init__(
        self,
        make_settings: Callable[..., Settings],
        write_script: Callable[..., Path],
        tmp_path: Path,
    ) -> None:
        self._make_settings = make_settings
        self._write_script = write_script
        self._tmp_path = tmp_path

    def settings(
        self, replies: list[Any] | None = None, *, context_window: int = 8192, **overrides: Any
    ) -> Settings:
        script = self._write_script(replies or ["Hello there."], context_window=context_window)
        values: dict[str, Any] = {
            "default_model": MODEL,
            "scripted_file": script,
            "scripted_record_path": self.record_path,
            **overrides,
        }
        return self._make_settings(**values)

    @property
    def record_path(self) -> Path:
        return self._tmp_path / "received.jsonl"

    @contextmanager
    def __call__(
        self, replies: list[Any] | None = None, *, context_window: int = 8192, **overrides: Any
    ) -> Iterator[Api]:
        settings = self.settings(replies, context_window=context_window, **overrides)
        with serve(settings, self.record_path) as api:
            yield api


@contextmanager
def serve(settings: Settings, record_path: Path, *, timeout: float = 30.0) -> Iterator[Api]:
    with (
        ThreadedServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=timeout) as http,
    ):
        yield Api(http, server.url, record_path)


def assert_openai_error(
    response: httpx.Response,
    status: int,
    *,
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """The response is an OpenAI-style error with this status; returns the error object."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["type"], str)
    assert error["type"]
    if param is not None:
        assert error["param"] == param, error
    if code is not None:
        assert error["code"] == code, error
    return error


def sse_events(raw: str) -> list[str]:
    """Split a raw SSE body into its events, checking the framing of each one.

    Returns the events in order: ``data:`` payloads as their text (JSON or ``[DONE]``)
    and comments as the whole comment line.
    """
    assert raw.endswith("\n\n"), repr(raw[-40:])
    events: list[str] = []
    for block in raw[:-2].split("\n\n"):
        lines = block.split("\n")
        assert len(lines) == 1, f"an event spans several lines: {block!r}"
        line = lines[0]
        if line.startswith(":"):
            events.append(line)
            continue
        assert line.startswith("data: "), f"not a data line: {line!r}"
        events.append(line[len("data: ") :])
    return events


def data_events(raw: str) -> list[Any]:
    """The ``data:`` events of a raw SSE body, JSON-decoded (``[DONE]`` kept as a string)."""
    return [
        event if event == "[DONE]" else json.loads(event)
        for event in sse_events(raw)
        if not event.startswith(":")
    ]


def words(text: str) -> int:
    return len(text.split())
