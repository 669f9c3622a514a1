"""``POST /v1/chat/completions`` and ``GET /v1/models``: the OpenAI-compatible surface.

The official ``openai`` client works against these unmodified. habla extras travel in a
``habla`` object on the response (conversation id, turns left out of the context) and as
``X-Habla-*`` headers; in requests, ``conversation_id``, ``persona`` and ``store`` go in
the body (``extra_body`` with the official client).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from habla.chat.service import PreparedTurn, collect_reply
from habla.chat.turns import TurnInput
from habla.core.errors import HablaError
from habla.core.events import Finished, StreamEvent
from habla.interfaces.api.deps import PrincipalDep, RuntimeDep, client_ip
from habla.interfaces.api.errors import error_body, status_of
from habla.interfaces.api.openai_convert import to_messages
from habla.interfaces.api.openai_render import DONE, KEEPALIVE, CompletionRenderer, sse
from habla.interfaces.api.openai_schema import ChatCompletionRequest
from habla.interfaces.api.streaming import (
    ClientGone,
    EventPump,
    unless_disconnected,
    wait_for_disconnect,
)
from habla.limits.rules import ratelimit_headers
from habla.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter()

# How long a stream may take to produce its first event before we commit to a 200 and
# start sending keep-alives. Errors inside this grace still get their proper status.
FIRST_EVENT_GRACE = 1.0


class _Pending:
    pass


_PENDING = _Pending()


def habla_meta(prepared: PreparedTurn) -> dict[str, Any]:
    return {
        "conversation_id": prepared.conversation_id,
        "omitted_turns": prepared.omitted_turns,
        "notice": prepared.notice,
    }


def habla_headers(prepared: PreparedTurn) -> dict[str, str]:
    headers = {"X-Habla-Omitted-Turns": str(prepared.omitted_turns)}
    if prepared.admission is not None:
        headers.update(ratelimit_headers(prepared.admission))
    if prepared.conversation_id is not None:
        headers["X-Habla-Conversation-Id"] = prepared.conversation_id
    # Guards: a flagged turn proceeds, and the client is told which rules flagged it.
    if prepared.guard_flags:
        headers["X-Habla-Guard"] = "flagged; rules=" + ",".join(prepared.guard_flags)
    return headers


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, runtime: RuntimeDep, principal: PrincipalDep
) -> Response:
    continuing = body.conversation_id is not None
    turn = TurnInput(
        principal=principal,
        messages=to_messages(body.messages),
        conversation_id=body.conversation_id,
        persona=body.persona,
        model=body.model,
        max_tokens=body.reply_budget,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=body.stop_list,
        seed=body.seed,
        store=body.store
        if body.store is not None
        else (continuing or runtime.settings.store_api_chats),
        origin=client_ip(request),
    )
    prepared = await runtime.chat.prepare(turn)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    renderer = CompletionRenderer(
        prepared.model_id, habla_meta(prepared), include_usage=include_usage
    )
    headers = habla_headers(prepared)
    if body.stream:
        keepalive = runtime.settings.sse_keepalive_seconds
        return await _stream(request, prepared, renderer, keepalive, headers)
    try:
        text, finished = await unless_disconnected(request, collect_reply(prepared))
    except ClientGone:
        return Response(status_code=499)
    payload = renderer.completion(text, finished.finish_reason, finished.usage)
    return JSONResponse(payload, headers=headers)


async def _stream(
    request: Request,
    prepared: PreparedTurn,
    renderer: CompletionRenderer,
    keepalive: float,
    headers: dict[str, str],
) -> StreamingResponse:
    pump = EventPump(prepared.stream())
    first: StreamEvent | _Pending | None
    try:
        first = await pump.next(timeout=FIRST_EVENT_GRACE)
    except TimeoutError:
        first = _PENDING
    except BaseException:
        await pump.close()
        raise  # an early error still gets its real HTTP status
    body = _sse_body(request, pump, first, renderer, keepalive)
    sse_headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **headers}
    return StreamingResponse(body, media_type="text/event-stream", headers=sse_headers)


async def _sse_body(
    request: Request,
    pump: EventPump,
    first: StreamEvent | _Pending | None,
    renderer: CompletionRenderer,
    keepalive: float,
) -> AsyncIterator[bytes]:
    watcher = asyncio.ensure_future(wait_for_disconnect(request))
    watcher.add_done_callback(lambda task: None if task.cancelled() else pump.cancel())
    event = first
    try:
        yield renderer.first_chunk()
        while True:
            if isinstance(event, _Pending):
                if watcher.done():
                    return
                try:
                    event = await pump.next(timeout=keepalive)
                except TimeoutError:
                    yield KEEPALIVE
                    continue
                except HablaError as exc:
                    yield _error_event(exc)
                    return
                except Exception:
                    log.exception("stream failed")
                    yield sse(error_body("the reply failed", "server_error", param=None, code=None))
                    return
            if event is None:
                break
            if isinstance(event, Finished):
                yield renderer.finish_chunk(event.finish_reason)
                if renderer.include_usage:
                    yield renderer.usage_chunk(event.usage)
            else:
                yield renderer.delta_chunk(event.text)
            event = _PENDING
        yield DONE
    finally:
        watcher.cancel()
        await pump.close()


def _error_event(exc: HablaError) -> bytes:
    _, type_ = status_of(exc)
    return sse(error_body(exc.message, type_, param=exc.param, code=exc.code))


@router.get("/v1/models")
async def list_models(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    created = 0
    data = [
        {
            "id": model_id,
            "object": "model",
            "created": created,
            "owned_by": "habla",
            "habla": _model_extras(runtime, model_id),
        }
        for model_id in runtime.models.ids
    ]
    return {"object": "list", "data": data}


def _model_extras(runtime: Runtime, model_id: str) -> dict[str, Any]:
    """What a chat page needs to know before sending: default, images, context size."""
    capabilities = runtime.models.resolve(model_id).capabilities
    return {
        "default": model_id == runtime.models.default_id,
        "vision": capabilities.vision,
        "context_window": capabilities.context_window,
    }
