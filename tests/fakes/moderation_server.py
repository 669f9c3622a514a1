"""A fake OpenAI moderation endpoint that really listens on 127.0.0.1, for tests.

``POST /v1/moderations`` answers in OpenAI's shape (``{"id", "model", "results": [{"flagged",
"categories", "category_scores"}]}``). By default nothing is flagged; an input containing
one of the ``flag_words`` is flagged under its category. Scripted failures (HTTP status,
a slow answer, a malformed body) are consumed one per request::

    with FakeModerationServer({"bad-thing": "violence"}) as server:
        server.fail_next(status=500)
        ...  # point habla at server.base_url ("http://127.0.0.1:PORT/v1")
        assert server.requests[0]["input"] == "..."

It is not OpenAI: it knows no real categories beyond the ones it is given.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from servers import ThreadedServer

CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


@dataclass(frozen=True, slots=True)
class Failure:
    status: int = 500
    delay: float = 0.0  # seconds before answering (longer than habla's timeout: a timeout)
    malformed: bool = False  # answer 200 with a body that is not a moderation result


class FakeModerationServer(ThreadedServer):
    def __init__(self, flag_words: dict[str, str] | None = None) -> None:
        self.flag_words = dict(flag_words or {})
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._failures: deque[Failure] = deque()
        app = Starlette(routes=[Route("/v1/moderations", self._moderate, methods=["POST"])])
        super().__init__(app)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def fail_next(self, status: int = 500, *, delay: float = 0.0, malformed: bool = False) -> None:
        self._failures.append(Failure(status, delay, malformed))

    async def _moderate(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        if self._failures:
            failure = self._failures.popleft()
            await asyncio.sleep(failure.delay)
            if failure.malformed:
                return PlainTextResponse("not json at all")
            if failure.status != 200:
                error = {"error": {"message": "fake failure", "type": "server_error"}}
                return JSONResponse(error, status_code=failure.status)
        text = str(body.get("input", ""))
        hits = {cat for word, cat in self.flag_words.items() if word in text}
        categories = {name: name in hits for name in CATEGORIES}
        scores = {name: (0.97 if name in hits else 0.001) for name in CATEGORIES}
        result = {"flagged": bool(hits), "categories": categories, "category_scores": scores}
        return JSONResponse(
            {"id": f"modr-{len(self.requests)}", "model": body.get("model"), "results": [result]}
        )
