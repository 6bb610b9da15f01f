"""Knowledge loop: a missed question remembers the approved answer that closed it.

Mirrors ``QuestionLogEntry.addressed_by`` in ``bot/knowledge_loop/models.py``.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("question_log", sa.Column("addressed_by", sa.String(20), nullable=True))
    op.create_index("ix_question_log_addressed_by", "question_log", ["addressed_by"])


def downgrade() -> None:
    op.drop_index("ix_question_log_addressed_by", table_name="question_log")
    op.drop_column("question_log", "addressed_by")
