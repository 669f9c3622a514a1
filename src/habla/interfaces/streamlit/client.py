"""A small synchronous client of habla's HTTP API, for the Streamlit app.

It speaks only the public API (``/v1/...``) with an API key, streams replies from
``POST /v1/chat/completions`` as they come, and turns every failure into a
:class:`ClientError` whose message a user can act on. It holds no engine object and no
settings: the URL and key are given by whoever builds it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

TIMEOUT = httpx.Timeout(connect=5.0, read=120.0, write=30.0, pool=5.0)


class ClientError(Exception):
    """A failed call, with a plain-language ``message`` (and the HTTP status, if any)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Reply:
    """What a streamed reply told us besides its text (filled in while it streams)."""

    conversation_id: str | None = None
    omitted_turns: int = 0
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)


def plain_error(status: int, body: Any, retry_after: str | None) -> str:
    error = body.get("error", {}) if isinstance(body, dict) else {}
    message = str(error.get("message") or f"the server answered {status}")
    code = error.get("code")
    wait = _seconds(retry_after)
    again = f" You can try again in {wait} seconds." if wait is not None else ""
    if code in ("rate_limit_exceeded", "insufficient_quota") or status == 429:
        return f"You have reached your limit for now.{again}"
    if code in ("context_length_exceeded", "input_too_large"):
        return f"Your message is too long for this model: {message}"
    if code in ("backend_unavailable", "backend_busy") or status == 503:
        return f"The model is not available right now. Try again in a moment.{again}"
    if status == 401:
        return "The server did not accept the API key. Check it in the sidebar."
    if status == 404:
        return f"Not found: {message}"
    return message


def _seconds(value: str | None) -> int | None:
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return math.ceil(seconds) if math.isfinite(seconds) and seconds > 0 else None


class HablaClient:
    def __init__(self, base_url: str, api_key: str | None, *, timeout: httpx.Timeout = TIMEOUT):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HablaClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ClientError(f"Cannot reach the habla server at {self._http.base_url}.") from exc
        if response.status_code >= 400:
            raise ClientError(_error_of(response), response.status_code)
        return response.json() if response.content else None

    def me(self) -> dict[str, Any]:
        data: dict[str, Any] = self._json("GET", "/v1/me")
        return data

    def personas(self) -> list[dict[str, str]]:
        data: list[dict[str, str]] = self._json("GET", "/v1/personas")["data"]
        return data

    def models(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self._json("GET", "/v1/models")["data"]
        return data

    def conversations(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self._json("GET", "/v1/conversations")["data"]
        return data

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        path = f"/v1/conversations/{conversation_id}/messages"
        data: list[dict[str, Any]] = self._json("GET", path)["data"]
        return data

    def stream_reply(
        self,
        text: str,
        reply: Reply,
        *,
        persona: str | None = None,
        model: str | None = None,
    ) -> Iterator[str]:
        """Yields the reply's text as it arrives; fills ``reply`` along the way.
        ``reply.conversation_id`` continues a conversation (and is set for a new one)."""
        body: dict[str, Any] = {
            "messages": [{"role": "user", "content": text}],
            "stream": True,
            "stream_options": {"include_usage": True},
            "store": True,
        }
        for key, value in (
            ("persona", persona),
            ("model", model),
            ("conversation_id", reply.conversation_id),
        ):
            if value:
                body[key] = value
        try:
            with self._http.stream("POST", "/v1/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ClientError(_error_of(response), response.status_code)
                header = response.headers.get("X-Habla-Conversation-Id")
                reply.conversation_id = header or reply.conversation_id
                reply.omitted_turns = int(response.headers.get("X-Habla-Omitted-Turns", "0"))
                yield from _deltas(response.iter_lines(), reply)
        except httpx.HTTPError as exc:
            raise ClientError("The connection to the habla server broke off.") from exc


def _deltas(lines: Iterator[str], reply: Reply) -> Iterator[str]:
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators and keep-alive comments
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        chunk = json.loads(payload)
        if "error" in chunk:
            raise ClientError(plain_error(500, chunk, None))
        if chunk.get("usage"):
            reply.usage = chunk["usage"]
        for choice in chunk.get("choices", []):
            if choice.get("finish_reason"):
                reply.finish_reason = choice["finish_reason"]
            content = choice.get("delta", {}).get("content")
            if content:
                yield content


def _error_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    return plain_error(response.status_code, body, response.headers.get("Retry-After"))
