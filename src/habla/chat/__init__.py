"""The chat engine: one :class:`~habla.chat.service.ChatService` behind every channel."""

from habla.store.base import ConversationRecord, StoredMessage

__all__ = ["ConversationRecord", "StoredMessage"]
