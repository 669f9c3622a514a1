"""An in-memory :class:`~habla.store.base.ConversationStore` and
:class:`~habla.store.accounts.AccountStore` for tests and throwaway runs.

Keeps everything in dicts owned by the instance; nothing survives the process. Follows
the same contracts as the SQL store (the contract suites run over both). Not safe to share
between threads; one event loop at a time, like everything async.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from habla.core.errors import Conflict, NotFound
from habla.core.events import Usage
from habla.core.identity import Role
from habla.core.messages import Message, Text
from habla.store.accounts import (
    ApiKeyRecord,
    AuditEntry,
    AuditRecord,
    UserLimits,
    UserRecord,
    check_role,
    name_key,
)
from habla.store.base import ConversationRecord, MessageStatus, StoredMessage, UsageRecord
from habla.store.memory_telegram import MemoryTelegram


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _UsageRow:
    record: UsageRecord
    at: datetime


class MemoryStore(MemoryTelegram):
    def __init__(self) -> None:
        self._conversations: dict[str, ConversationRecord] = {}
        self._messages: dict[str, list[StoredMessage]] = {}
        self._usage: list[_UsageRow] = []
        self._users: dict[str, UserRecord] = {}
        self._keys: dict[str, ApiKeyRecord] = {}
        self._audit: list[AuditRecord] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _user_exists(self, user_id: str) -> bool:
        return user_id in self._users

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

    # -- users -------------------------------------------------------------------------

    async def create_user(
        self, name: str, role: Role, password_hash: str | None = None
    ) -> UserRecord:
        if await self.find_user_by_name(name) is not None:
            raise Conflict("that user name is taken", param="name")
        record = UserRecord(
            id=uuid.uuid4().hex,
            name=name,
            role=check_role(role),
            enabled=True,
            password_hash=password_hash,
            token_version=0,
            created_at=_now(),
        )
        self._users[record.id] = record
        return record

    async def get_user(self, user_id: str) -> UserRecord:
        record = self._users.get(user_id)
        if record is None:
            raise NotFound("no such user")
        return record

    async def find_user_by_name(self, name: str) -> UserRecord | None:
        wanted = name_key(name)
        return next((u for u in self._users.values() if name_key(u.name) == wanted), None)

    async def list_users(self) -> list[UserRecord]:
        return list(self._users.values())  # dicts keep insertion order: oldest first

    async def count_users(self) -> int:
        return len(self._users)

    async def update_user(
        self,
        user_id: str,
        *,
        role: Role | None = None,
        enabled: bool | None = None,
        password_hash: str | None = None,
        limits: UserLimits | None = None,
    ) -> UserRecord:
        record = await self.get_user(user_id)
        bump = (
            (role is not None and check_role(role) != record.role)
            or (enabled is not None and enabled != record.enabled)
            or password_hash is not None
        )
        updated = replace(
            record,
            role=record.role if role is None else check_role(role),
            enabled=record.enabled if enabled is None else enabled,
            password_hash=record.password_hash if password_hash is None else password_hash,
            limits=record.limits if limits is None else limits,
            token_version=record.token_version + (1 if bump else 0),
        )
        self._users[user_id] = updated
        return updated

    # -- API keys ----------------------------------------------------------------------

    async def create_api_key(
        self, user_id: str, name: str, prefix: str, key_hash: str
    ) -> ApiKeyRecord:
        await self.get_user(user_id)
        if await self.find_api_key_by_hash(key_hash) is not None:
            raise Conflict("that API key is already stored")
        record = ApiKeyRecord(uuid.uuid4().hex, user_id, name, prefix, key_hash, _now())
        self._keys[record.id] = record
        return record

    async def find_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        return next((k for k in self._keys.values() if k.key_hash == key_hash), None)

    async def list_api_keys(self, user_id: str | None = None) -> list[ApiKeyRecord]:
        return [k for k in self._keys.values() if user_id is None or k.user_id == user_id]

    async def revoke_api_key(self, key_id: str, *, user_id: str | None = None) -> ApiKeyRecord:
        record = self._keys.get(key_id)
        if record is None or (user_id is not None and record.user_id != user_id):
            raise NotFound("no such API key")
        if record.revoked_at is None:
            record = replace(record, revoked_at=_now())
            self._keys[key_id] = record
        return record

    async def touch_api_key(self, key_id: str, *, at: datetime | None = None) -> None:
        record = self._keys.get(key_id)
        if record is not None:
            self._keys[key_id] = replace(record, last_used_at=at or _now())

    # -- audit -------------------------------------------------------------------------

    async def append_audit(self, entry: AuditEntry) -> None:
        self._audit.append(
            AuditRecord(
                id=len(self._audit) + 1,
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                target=entry.target,
                ip=entry.ip,
                detail=entry.detail,
            )
        )

    async def tail_audit(self, limit: int = 50) -> list[AuditRecord]:
        return self._audit[-limit:] if limit > 0 else []
