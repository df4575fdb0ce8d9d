"""Pseudonymity that holds: no chat id beside a pseudonym; conversation state and drafts in the database.

- resident.chat_id is dropped (in a private chat it equals the Telegram user id). Where a resident who
  consented to notifications is reached is kept encrypted in notification_address, with a key derived
  from the pseudonym secret (never stored in the database). Addresses stored before this revision
  cannot be encrypted here (the migration has no key): they are dropped, and residents give them again
  the next time they consent (documented in README.md).
- notification_outbox loses chat_id and gains a lease (claimed_until, attempts) and a dedupe key, for
  at-least-once delivery; queued rows keep their resident.
- conversation_state and user_draft replace the local pickle file: every process reads them per update.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "notification_address",
        sa.Column("resident_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sealed", sa.String(length=400), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"]),
        sa.PrimaryKeyConstraint("resident_id"),
    )
    op.create_table(
        "conversation_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("address", sa.String(length=400), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", "key"),
    )
    with op.batch_alter_table("conversation_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversation_state_owner"), ["owner"], unique=False)
        batch_op.create_index(batch_op.f("ix_conversation_state_updated_at"), ["updated_at"], unique=False)
    op.create_table(
        "user_draft",
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("owner"),
    )
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.drop_column("chat_id")
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint("uq_notification_outbox_dedupe_key", ["dedupe_key"])
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.drop_column("chat_id")


def downgrade() -> None:
    """Revert this revision (addresses and drafts are lost: they cannot be decrypted here)."""
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
    op.execute("DELETE FROM notification_outbox")
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.drop_constraint("uq_notification_outbox_dedupe_key", type_="unique")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("attempts")
        batch_op.drop_column("dedupe_key")
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=False))
    op.drop_table("user_draft")
    with op.batch_alter_table("conversation_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_state_updated_at"))
        batch_op.drop_index(batch_op.f("ix_conversation_state_owner"))
    op.drop_table("conversation_state")
    op.drop_table("notification_address")
