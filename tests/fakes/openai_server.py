"""A fake OpenAI-compatible HTTP server that really listens on 127.0.0.1, for tests.

It serves ``POST /v1/chat/completions`` (SSE streaming byte-for-byte in OpenAI's shape, and
non-streaming) and ``GET /v1/models`` from uvicorn in a background thread, on a free port.
Tests drive it through a Python control API, never over HTTP::

    with FakeOpenAIServer() as server:            # or: async with FakeOpenAIServer() as server
        server.enqueue(Fail(status=429, retry_after=0.001), Reply(text="hi there"))
        ...  # point a client at server.base_url ("http://127.0.0.1:PORT/v1")
        assert server.requests[0]["stream"] is True

Each request consumes one scripted behaviour from the queue; an empty queue echoes the last
user message. ``server.requests`` holds the JSON bodies received, ``server.headers`` their
headers (lower-cased names).

It is not a model and does not validate requests the way OpenAI does: it accepts any JSON
object, ignores sampling options and never checks the API key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from servers import ThreadedServer

_WORDS = re.compile(r"\s*\S+\s*|\s+")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_denied",
    404: "invalid_request_error",
    429: "requests",
    500: "server_error",
    503: "server_error",
}
_ERROR_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer with ``text``, streamed a word per chunk.

    ``usage``: send a usage chunk when the client asked for one (``False`` plays a server
    that never reports usage). ``fail_midway`` sends an OpenAI-style error event after half
    the chunks; ``drop_midway`` closes the connection there instead.
    """

    text: str = "hello from the fake"
    usage: bool = True
    finish_reason: str = "stop"
    prompt_tokens: int = 9
    completion_tokens: int | None = None  # None: the number of chunks
    fail_midway: bool = False
    drop_midway: bool = False


@dataclass(frozen=True, slots=True)
class Fail:
    """Answer with an HTTP error in OpenAI's shape. ``retry_after`` (seconds) sets both
    ``retry-after-ms`` and ``Retry-After``; the SDK only honours values above zero, so use
    e.g. 0.001 to keep its retries quick. A 401 without ``message`` echoes the presented key,
    as a careless provider might, so tests can prove habla does not pass it on."""

    status: int
    message: str | None = None
    type: str | None = None
    code: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Hang:
    """Wait ``seconds`` before answering with ``then`` (default: the echo). Cut short when
    the server stops, so a hanging test never holds up shutdown."""

    seconds: float
    then: Reply | Fail | None = None


Behaviour = Reply | Fail | Hang


class _ConnectionDropped(Exception):
    """Raised inside a streaming body so that uvicorn closes the connection mid-reply."""


def _not_a_scripted_drop(record: logging.LogRecord) -> bool:
    """Keep uvicorn from logging a traceback for a drop the test asked for."""
    return not (record.exc_info and isinstance(record.exc_info[1], _ConnectionDropped))


class FakeOpenAIServer:
    """See the module docstring. ``start()``/``stop()`` or use it as a context manager."""

    def __init__(self, *, model: str = "fake-model") -> None:
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_hanging: asyncio.Event | None = None
        self._server: ThreadedServer | None = None

    # -- control API -------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake server is not running")
        return self._server.port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def enqueue(self, *behaviours: Behaviour) -> None:
        """Script the next requests, one behaviour each, in order."""
        with self._lock:
            self._queue.extend(behaviours)

    @property
    def pending(self) -> int:
        """Behaviours not yet consumed."""
        with self._lock:
            return len(self._queue)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        # addFilter ignores a filter that is already there, so servers can share it.
        logging.getLogger("uvicorn.error").addFilter(_not_a_scripted_drop)
        self._loop = self._stop_hanging = None  # made again by the first hang of this run
        self._server = ThreadedServer(
            self._app(),
            log_level=None,  # leave uvicorn's loggers as the test session set them
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",
            http="h11",
            loop="asyncio",
        )
        self._server.__enter__()

    def stop(self) -> None:
        if self._loop is not None and self._stop_hanging is not None:
            with contextlib.suppress(RuntimeError):  # the loop may be gone already
                self._loop.call_soon_threadsafe(self._stop_hanging.set)
        if self._server is not None:
            self._server.__exit__(None, None, None)

    def __enter__(self) -> FakeOpenAIServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FakeOpenAIServer:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- HTTP --------------------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    async def _models(self, request: Request) -> Response:
        model = {"id": self.model, "object": "model", "created": 0, "owned_by": "habla-tests"}
        return JSONResponse({"object": "list", "data": [model]})

    async def _chat(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error_response(Fail(status=400, message="the body is not valid JSON"), "")
        if not isinstance(body, dict):
            return _error_response(Fail(status=400, message="the body must be an object"), "")
        self.requests.append(body)
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        behaviour = self._next_behaviour(body)
        if isinstance(behaviour, Hang):
            await self._hang(behaviour.seconds)
            behaviour = behaviour.then or _echo(body)
        if isinstance(behaviour, Fail):
            return _error_response(behaviour, _bearer(request))
        if body.get("stream"):
            return StreamingResponse(
                self._sse(behaviour, body),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache"},
            )
        return JSONResponse(self._completion(behaviour))

    def _next_behaviour(self, body: dict[str, Any]) -> Behaviour:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return _echo(body)

    async def _hang(self, seconds: float) -> None:
        if self._stop_hanging is None:
            # Made here, in the server's own loop, which stop() wakes it through. Nothing
            # awaits between the check and the assignment, so concurrent hangs share it.
            self._loop = asyncio.get_running_loop()
            self._stop_hanging = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_hanging.wait(), seconds)

    async def _sse(self, reply: Reply, body: dict[str, Any]) -> AsyncIterator[bytes]:
        ids = _Ids(self.model)
        options = body.get("stream_options") or {}
        include_usage = bool(options.get("include_usage"))
        chunks = _WORDS.findall(reply.text) or [""]
        cut = max(1, len(chunks) // 2) if reply.fail_midway or reply.drop_midway else None
        for index, piece in enumerate(chunks):
            if index == cut:
                break
            delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
            last = index == len(chunks) - 1
            choice = {
                "index": 0,
                "delta": delta,
                "logprobs": None,
                "finish_reason": reply.finish_reason if last else None,
            }
            yield _event(ids.chunk([choice], include_usage))
        if cut is not None and reply.drop_midway:
            raise _ConnectionDropped("the fake drops the connection mid-reply, as scripted")
        if cut is not None:
            error = {"message": "The server had an error while processing your request."}
            yield _event({"error": {**error, "type": "server_error", "param": None, "code": None}})
            return
        if include_usage and reply.usage:
            yield _event({**ids.chunk([], False), "usage": _usage(reply, len(chunks))})
        yield b"data: [DONE]\n\n"

    def _completion(self, reply: Reply) -> dict[str, Any]:
        ids = _Ids(self.model)
        message = {"role": "assistant", "content": reply.text, "refusal": None}
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": reply.finish_reason,
        }
        result: dict[str, Any] = {**ids.base("chat.completion"), "choices": [choice]}
        if reply.usage:
            result["usage"] = _usage(reply, len(_WORDS.findall(reply.text)))
        return result


class _Ids:
    """The fields every chunk of one completion shares."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = model

    def base(self, kind: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
        }

    def chunk(self, choices: list[dict[str, Any]], with_usage_field: bool) -> dict[str, Any]:
        result = {**self.base("chat.completion.chunk"), "choices": choices}
        if with_usage_field:
            result["usage"] = None  # OpenAI sends usage: null on content chunks
        return result


def _event(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def _usage(reply: Reply, chunk_count: int) -> dict[str, int]:
    completion = chunk_count if reply.completion_tokens is None else reply.completion_tokens
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": reply.prompt_tokens + completion,
    }


def _echo(body: dict[str, Any]) -> Reply:
    """The default behaviour: repeat the last user message's text."""
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            return Reply(text=_text_of(message.get("content")))
    return Reply(text="")


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _bearer(request: Request) -> str:
    return request.headers.get("authorization", "").removeprefix("Bearer ")


def _error_response(fail: Fail, presented_key: str) -> Response:
    message = fail.message or _default_message(fail.status, presented_key)
    error = {
        "message": message,
        "type": fail.type or _ERROR_TYPES.get(fail.status, "invalid_request_error"),
        "param": None,
        "code": fail.code or _ERROR_CODES.get(fail.status),
    }
    headers: dict[str, str] = {}
    if fail.retry_after is not None:
        headers["retry-after-ms"] = f"{fail.retry_after * 1000:g}"
        headers["retry-after"] = f"{fail.retry_after:g}"
    return JSONResponse({"error": error}, status_code=fail.status, headers=headers)


def _default_message(status: int, presented_key: str) -> str:
    if status == 401:
        return f"Incorrect API key provided: {presented_key}."
    if status == 429:
        return "Rate limit reached for requests. Please try again later."
    if status >= 500:
        return "The server had an error while processing your request. Sorry about that!"
    return f"The fake was scripted to answer HTTP {status}."
