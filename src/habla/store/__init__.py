"""Conversation storage behind one protocol (:class:`habla.store.base.ConversationStore`).

Implementations: :mod:`habla.store.memory` (tests, ephemeral runs) and :mod:`habla.store.sql`
(SQLAlchemy 2 async on SQLite or PostgreSQL, with Alembic migrations).
"""
