"""Conversation storage behind one protocol (:class:`habla.store.base.ConversationStore`),
and accounts (users, API keys, audit log) behind another
(:class:`habla.store.accounts.AccountStore`).

Implementations: :mod:`habla.store.memory` (tests, ephemeral runs) and :mod:`habla.store.sql`
(SQLAlchemy 2 async on SQLite or PostgreSQL, with Alembic migrations); both implement both.
"""
