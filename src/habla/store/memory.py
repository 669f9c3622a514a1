"""An in-memory :class:`~habla.store.base.ConversationStore` for tests and throwaway runs.

Keeps everything in dicts owned by the instance; nothing survives the process. Follows
the same contract as the SQL store (the contract suite runs over both).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from habla.core.errors import NotFound
from habla.core.events import Usage
from habla.core.messages import Message, Text
from habla.store.base import ConversationRecord, MessageStatus, StoredMessage, UsageRecord


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _UsageRow:
    record: UsageRecord
    at: datetime


class MemoryStore:
    def __init__(self) -> None:
        self._conversations: dict[str, ConversationRecord] = {}
        self._messages: dict[str, list[StoredMessage]] = {}
        self._usage: list[_UsageRow] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def create_conversation(
        self, *, user_id: str, persona: str, model: str, title: str
    ) -> ConversationRecord:
        now = _now()
        record = ConversationRecord(uuid.uuid4().hex, user_id, title, persona, model, now, now)
        self._conversations[record.id] = record
        self._messages[record.id] = []
        return record

    async def get_conversation(self, conversation_id: str, *, user_id: str) -> ConversationRecord:
        record = self._conversations.get(conversation_id)
        if record is None or record.user_id != user_id:
            raise NotFound("no such conversation")
        return record

    async def list_conversations(
        self, *, user_id: str, limit: int = 50
    ) -> list[ConversationRecord]:
        mine = [c for c in self._conversations.values() if c.user_id == user_id]
        mine.sort(key=lambda c: c.updated_at, reverse=True)
        return mine[:limit]

    async def rename_conversation(
        self, conversation_id: str, *, user_id: str, title: str
    ) -> ConversationRecord:
        record = await self.get_conversation(conversation_id, user_id=user_id)
        renamed = replace(record, title=title, updated_at=_now())
        self._conversations[conversation_id] = renamed
        return renamed

    async def delete_conversation(self, conversation_id: str, *, user_id: str) -> None:
        await self.get_conversation(conversation_id, user_id=user_id)
        del self._conversations[conversation_id]
        del self._messages[conversation_id]

    async def append_message(
        self,
        conversation_id: str,
        message: Message,
        *,
        user_id: str,
        status: MessageStatus = "complete",
        model: str | None = None,
    ) -> StoredMessage:
        record = await self.get_conversation(conversation_id, user_id=user_id)
        messages = self._messages[conversation_id]
        now = _now()
        stored = StoredMessage(
            uuid.uuid4().hex, conversation_id, len(messages) + 1, message, status, model, now
        )
        messages.append(stored)
        self._conversations[conversation_id] = replace(record, updated_at=now)
        return stored

    async def update_message_text(
        self, message_id: str, *, user_id: str, text: str, status: MessageStatus
    ) -> None:
        for conversation_id, messages in self._messages.items():
            for index, stored in enumerate(messages):
                if stored.id != message_id:
                    continue
                await self.get_conversation(conversation_id, user_id=user_id)
                others = tuple(p for p in stored.message.parts if not isinstance(p, Text))
                message = Message(stored.message.role, (Text(text), *others))
                messages[index] = replace(stored, message=message, status=status)
                return
        raise NotFound("no such message")

    async def list_messages(self, conversation_id: str, *, user_id: str) -> list[StoredMessage]:
        await self.get_conversation(conversation_id, user_id=user_id)
        return list(self._messages[conversation_id])

    async def record_usage(self, record: UsageRecord) -> None:
        self._usage.append(_UsageRow(record, _now()))

    async def usage_since(self, *, user_id: str, since: datetime) -> Usage:
        total = Usage()
        for row in self._usage:
            if row.record.user_id == user_id and row.at >= since:
                total = total + row.record.usage
        return total
