"""The storage protocol and its record types.

Every read and write that touches a conversation takes the ``user_id`` asking for it,
and a conversation that exists but belongs to someone else is reported exactly like one
that does not exist (:class:`~habla.core.errors.NotFound`): ownership is checked inside
the store, on every operation, so no caller can forget it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from habla.core.events import FinishReason, Usage
from habla.core.messages import Message

MessageStatus = Literal["complete", "incomplete"]


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: str
    user_id: str
    title: str
    persona: str
    model: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: str
    conversation_id: str
    seq: int
    message: Message
    status: MessageStatus
    model: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UsageRecord:
    user_id: str
    conversation_id: str | None
    model: str
    usage: Usage
    latency_ms: int
    finish_reason: FinishReason


class ConversationStore(Protocol):
    async def start(self) -> None:
        """Create or migrate the schema. Idempotent."""
        ...

    async def close(self) -> None: ...

    async def create_conversation(
        self, *, user_id: str, persona: str, model: str, title: str
    ) -> ConversationRecord: ...

    async def get_conversation(self, conversation_id: str, *, user_id: str) -> ConversationRecord:
        """Raises NotFound when missing or owned by another user."""
        ...

    async def list_conversations(
        self, *, user_id: str, limit: int = 50
    ) -> list[ConversationRecord]:
        """Newest first (by last update)."""
        ...

    async def rename_conversation(
        self, conversation_id: str, *, user_id: str, title: str
    ) -> ConversationRecord: ...

    async def delete_conversation(self, conversation_id: str, *, user_id: str) -> None:
        """Hard-deletes the conversation and its messages. Raises NotFound."""
        ...

    async def append_message(
        self,
        conversation_id: str,
        message: Message,
        *,
        user_id: str,
        status: MessageStatus = "complete",
        model: str | None = None,
    ) -> StoredMessage:
        """Adds a message at the end and bumps the conversation's ``updated_at``."""
        ...

    async def update_message_text(
        self, message_id: str, *, user_id: str, text: str, status: MessageStatus
    ) -> None:
        """Replaces the text of a (streaming) message and sets its status."""
        ...

    async def list_messages(self, conversation_id: str, *, user_id: str) -> list[StoredMessage]:
        """Oldest first."""
        ...

    async def record_usage(self, record: UsageRecord) -> None: ...

    async def usage_since(self, *, user_id: str, since: datetime) -> Usage:
        """Sum of recorded usage for the user from ``since`` (inclusive)."""
        ...
