"""Knowledge loop: staff FAQ answers, their linked questions, consenting askers, admin synonyms.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "faq_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(1000), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("source", sa.String(500), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_faq_entry_updated_at", "faq_entry", ["updated_at"])
    op.create_table(
        "faq_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("faq_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("seen_count", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["faq_id"], ["faq_entry.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "question_id", name="uq_faq_link_question"),
    )
    op.create_index("ix_faq_link_faq_id", "faq_link", ["faq_id"])
    op.create_table(
        "unanswered_ask",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("asks", sa.Integer(), nullable=False),
        sa.Column("last_asked", sa.DateTime(), nullable=False),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["question_id"], ["unanswered_question.id"]),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("question_id", "resident_id", name="uq_unanswered_ask"),
    )
    op.create_index("ix_unanswered_ask_question_id", "unanswered_ask", ["question_id"])
    op.create_index("ix_unanswered_ask_resident_id", "unanswered_ask", ["resident_id"])
    op.create_table(
        "synonym_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("everyday", sa.String(200), nullable=False),
        sa.Column("formal", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("everyday", "formal", name="uq_synonym_rule"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("synonym_rule")
    op.drop_index("ix_unanswered_ask_resident_id", "unanswered_ask")
    op.drop_index("ix_unanswered_ask_question_id", "unanswered_ask")
    op.drop_table("unanswered_ask")
    op.drop_index("ix_faq_link_faq_id", "faq_link")
    op.drop_table("faq_link")
    op.drop_index("ix_faq_entry_updated_at", "faq_entry")
    op.drop_table("faq_entry")
