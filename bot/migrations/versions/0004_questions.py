"""Slack questions stored before the ack (issue 10, item 3): none is lost to a crash or an outage.

Mirrors ``PendingQuestion`` in ``bot/slack/models.py``.  Answers are delivered through the records
outbox (``record_outbox``), which already takes rows without a record.

Revision ID: 0004
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "slack_questions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.Column("surface", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("user", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("response_url", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(96), nullable=True),
        sa.Column("locked_until", _TS, nullable=True),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("last_error", sa.String(64), nullable=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
    )
    op.create_index("ix_slack_questions_event_id", "slack_questions", ["event_id"])
    op.create_index("ix_slack_questions_due", "slack_questions", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_questions_due", table_name="slack_questions")
    op.drop_index("ix_slack_questions_event_id", table_name="slack_questions")
    op.drop_table("slack_questions")
