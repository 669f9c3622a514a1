"""Data at rest: a key id per row for encrypted content, and an age index for retention.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Hand-written, types spelled out as in 0001. ``key_id`` NULL means the row is plaintext,
so every existing row stays readable; ``habla keys rotate-data-key`` encrypts them later.
Downgrading refuses while any row is encrypted: revision 0003 has nowhere to record the
key and would serve ciphertext as if it were text.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY_ID = 16


def upgrade() -> None:
    for table in ("conversations", "messages"):
        op.add_column(table, sa.Column("key_id", sa.String(_KEY_ID), nullable=True))
        op.create_index(f"ix_{table}_key_id", table, ["key_id"])
    op.create_index("ix_messages_created_at", "messages", ["created_at"])


def downgrade() -> None:
    bind = op.get_bind()
    for table in ("conversations", "messages"):
        sealed = bind.execute(
            sa.text(f"SELECT count(*) FROM {table} WHERE key_id IS NOT NULL")  # noqa: S608
        ).scalar_one()
        if sealed:
            raise RuntimeError(
                f"{sealed} rows of {table} are encrypted; revision 0003 cannot hold them."
                " Keep this revision (or restore a backup taken before encryption)."
            )
    op.drop_index("ix_messages_created_at", table_name="messages")
    for table in ("messages", "conversations"):
        op.drop_index(f"ix_{table}_key_id", table_name=table)
        # A plain DROP COLUMN (SQLite >= 3.35), not batch mode: batch mode re-creates the
        # table, and dropping the old conversations table would cascade to every message.
        op.drop_column(table, "key_id")
