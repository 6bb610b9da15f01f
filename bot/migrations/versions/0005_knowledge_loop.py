"""Knowledge loop: masked question log, approved desk answers, their audit trail.

Mirrors ``bot/knowledge_loop/models.py``.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "question_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("asked_at", _TS, nullable=False),
        sa.Column("turn_ref", sa.String(32), nullable=True),
        sa.Column("surface", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("feedback", sa.Integer, nullable=True),
        sa.Column("handed_off", sa.Boolean, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=True),
    )
    op.create_index("ix_question_log_asked_at", "question_log", ["asked_at"])
    op.create_index("ix_question_log_turn_ref", "question_log", ["turn_ref"])
    op.create_index("ix_question_log_outcome_asked", "question_log", ["outcome", "asked_at"])
    op.create_table(
        "desk_answers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("answer_id", sa.String(20), nullable=False, unique=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("approver", sa.String(64), nullable=False),
        sa.Column("approved_at", _TS, nullable=False),
        sa.Column("withdrawn_at", _TS, nullable=True),
        sa.Column("withdrawn_by", sa.String(64), nullable=True),
        sa.Column("source_turn_ref", sa.String(32), nullable=True),
    )
    op.create_table(
        "knowledge_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("knowledge_audit")
    op.drop_table("desk_answers")
    op.drop_index("ix_question_log_outcome_asked", table_name="question_log")
    op.drop_index("ix_question_log_turn_ref", table_name="question_log")
    op.drop_index("ix_question_log_asked_at", table_name="question_log")
    op.drop_table("question_log")
