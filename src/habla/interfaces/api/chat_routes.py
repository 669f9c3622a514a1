"""``POST /chat``: the simple persona service — a prompt in, the persona's answer out.

Always stored: the response carries the ``conversation_id`` to continue with.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from habla.chat.service import collect_reply
from habla.chat.turns import TurnInput
from habla.core.messages import Message
from habla.interfaces.api.deps import PrincipalDep, RuntimeDep, client_ip
from habla.interfaces.api.openai_render import openai_finish_reason, usage_json
from habla.interfaces.api.openai_routes import habla_headers
from habla.interfaces.api.streaming import ClientGone, unless_disconnected

router = APIRouter()


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1)
    conversation_id: str | None = Field(default=None, max_length=64)
    persona: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=200)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2, allow_inf_nan=False)


@router.post("/chat", response_model=None)
async def chat(
    body: ChatIn,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> dict[str, Any] | Response:
    turn = TurnInput(
        principal=principal,
        messages=(Message.of("user", body.prompt),),
        conversation_id=body.conversation_id,
        persona=body.persona,
        model=body.model,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        origin=client_ip(request),
    )
    prepared = await runtime.chat.prepare(turn)
    try:
        reply, finished = await unless_disconnected(request, collect_reply(prepared))
    except ClientGone:
        return Response(status_code=499)
    response.headers.update(habla_headers(prepared))
    return {
        "reply": reply,
        "conversation_id": prepared.conversation_id,
        "model": prepared.model_id,
        "finish_reason": openai_finish_reason(finished.finish_reason),
        "usage": usage_json(finished.usage),
        "omitted_turns": prepared.omitted_turns,
        "notice": prepared.notice,
    }
