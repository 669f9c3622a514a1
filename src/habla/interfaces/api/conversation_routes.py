"""Conversation endpoints: list, read, rename, delete — always scoped to the caller.

A conversation that is not the caller's is answered exactly like one that does not
exist (404), so ids cannot be probed.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from habla.chat import ConversationRecord, StoredMessage
from habla.core.messages import Image
from habla.interfaces.api.deps import RuntimeDep, UserDep

router = APIRouter(prefix="/v1/conversations")


def conversation_json(record: ConversationRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "title": record.title,
        "persona": record.persona,
        "model": record.model,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def message_json(stored: StoredMessage) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": stored.message.text}]
    for part in stored.message.parts:
        if isinstance(part, Image):
            data = base64.b64encode(part.data).decode()
            url = f"data:{part.mime};base64,{data}"
            content.append({"type": "image_url", "image_url": {"url": url}})
    return {
        "id": stored.id,
        "role": stored.message.role,
        "content": stored.message.text if len(content) == 1 else content,
        "status": stored.status,
        "model": stored.model,
        "created_at": stored.created_at.isoformat(),
    }


class RenameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)


@router.get("")
async def list_conversations(
    runtime: RuntimeDep, user: UserDep, limit: int = Query(default=50, ge=1, le=500)
) -> dict[str, Any]:
    records = await runtime.chat.list_conversations(user, limit)
    return {"object": "list", "data": [conversation_json(r) for r in records]}


@router.get("/{conversation_id}")
async def get_conversation(
    conversation_id: str, runtime: RuntimeDep, user: UserDep
) -> dict[str, Any]:
    record, messages = await runtime.chat.conversation(conversation_id, user)
    return {**conversation_json(record), "messages": [message_json(m) for m in messages]}


@router.get("/{conversation_id}/messages")
async def get_messages(conversation_id: str, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    _, messages = await runtime.chat.conversation(conversation_id, user)
    return {"object": "list", "data": [message_json(m) for m in messages]}


@router.patch("/{conversation_id}")
async def rename_conversation(
    conversation_id: str, body: RenameIn, runtime: RuntimeDep, user: UserDep
) -> dict[str, Any]:
    record = await runtime.chat.rename_conversation(conversation_id, user, body.title)
    return conversation_json(record)


@router.delete("/{conversation_id}", status_code=204)
async def delete_conversation(conversation_id: str, runtime: RuntimeDep, user: UserDep) -> Response:
    await runtime.chat.delete_conversation(conversation_id, user)
    return Response(status_code=204)
