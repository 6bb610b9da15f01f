"""Slack surface: processed event ids (dedupe), conversation turns, feedback, hand-offs.

Branches off the base revision like every feature (``upgrade heads`` runs them all); the tables
mirror ``bot/slack/models.py``.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "slack_processed_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
    )
    op.create_index("ix_slack_processed_events_received_at", "slack_processed_events", ["received_at"])

    op.create_table(
        "conversation_turns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ref", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.Column("user", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("surface", sa.String(16), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("abstained", sa.Boolean, nullable=False),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("answer_ts", sa.String(32), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("ref", name="uq_conversation_turns_ref"),
    )
    op.create_index("ix_conversation_turns_thread", "conversation_turns", ["channel", "thread_ts"])

    op.create_table(
        "slack_feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("turn_id", sa.Integer, sa.ForeignKey("conversation_turns.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("user", sa.String(32), nullable=False),
        sa.Column("rating", sa.Integer, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.UniqueConstraint("turn_id", "user", name="uq_slack_feedback_turn_user"),
    )

    op.create_table(
        "slack_handoffs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("turn_id", sa.Integer, sa.ForeignKey("conversation_turns.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.Column("asker", sa.String(32), nullable=False),
        sa.Column("desk_channel", sa.String(32), nullable=False),
        sa.Column("desk_ts", sa.String(32), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("turn_id", name="uq_slack_handoffs_turn"),
    )


def downgrade() -> None:
    op.drop_table("slack_handoffs")
    op.drop_table("slack_feedback")
    op.drop_index("ix_conversation_turns_thread", table_name="conversation_turns")
    op.drop_table("conversation_turns")
    op.drop_index("ix_slack_processed_events_received_at", table_name="slack_processed_events")
    op.drop_table("slack_processed_events")
