"""Telegram: account links, link codes, chat state, user marks, seen update ids.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Hand-written, types spelled out as in 0001/0002; names follow the naming convention in
``schema.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = 36


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "telegram_links",
        sa.Column("telegram_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.String(_ID), nullable=False),
        sa.Column("linked_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("telegram_id", name="pk_telegram_links"),
        _user_fk("telegram_links"),
    )
    op.create_index("ix_telegram_links_user_id", "telegram_links", ["user_id"])
    op.create_table(
        "telegram_link_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(_ID), nullable=False),
        sa.Column("expires_at", _timestamp(), nullable=False),
        sa.Column("used_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name="pk_telegram_link_codes"),
        _user_fk("telegram_link_codes"),
    )
    op.create_table(
        "telegram_chats",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("conversation_id", sa.String(_ID), nullable=True),
        sa.Column("persona", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("last_active_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "telegram_id", name="pk_telegram_chats"),
    )
    op.create_table(
        "telegram_users",
        sa.Column("telegram_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("blocked_at", _timestamp(), nullable=True),
        sa.Column("refused_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("telegram_id", name="pk_telegram_users"),
    )
    op.create_table(
        "telegram_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seen_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name="pk_telegram_updates"),
    )
    op.create_index("ix_telegram_updates_seen_at", "telegram_updates", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_telegram_updates_seen_at", table_name="telegram_updates")
    op.drop_table("telegram_updates")
    op.drop_table("telegram_users")
    op.drop_table("telegram_chats")
    op.drop_table("telegram_link_codes")
    op.drop_index("ix_telegram_links_user_id", table_name="telegram_links")
    op.drop_table("telegram_links")
