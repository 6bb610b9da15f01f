"""Records: draft proposals, per-year numbering, status audit, idempotency keys, Slack outbox.

Branches off the base revision like every feature (``upgrade heads`` runs them all); the tables
mirror ``bot/records/models.py``.

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "proposal_records",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(20), nullable=True),
        sa.Column("year", sa.Integer, nullable=True),
        sa.Column("seq", sa.Integer, nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("submitted_at", _TS, nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("proposer_user_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=True),
        sa.Column("thread_ts", sa.String(32), nullable=True),
        sa.Column("permalink", sa.Text, nullable=True),
        sa.Column("desk_channel_id", sa.String(32), nullable=True),
        sa.Column("desk_ts", sa.String(32), nullable=True),
        sa.Column("desk_permalink", sa.Text, nullable=True),
        sa.Column("assigned_department", sa.String(200), nullable=True),
        sa.Column("org_name", sa.String(200), nullable=False),
        sa.Column("org_type", sa.String(32), nullable=False),
        sa.Column("org_department", sa.String(200), nullable=False),
        sa.Column("contact_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("city_issue", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("scheme", sa.String(16), nullable=False),
        sa.Column("asks", sa.JSON, nullable=False),
        sa.Column("cost_burden", sa.String(16), nullable=False),
        sa.Column("schedule", sa.String(500), nullable=False),
        sa.Column("place", sa.String(500), nullable=False),
        sa.Column("personal_info", sa.String(16), nullable=False),
        sa.Column("third_party_ip", sa.String(16), nullable=False),
        sa.Column("qa_excerpt", sa.Text, nullable=False),
        sa.UniqueConstraint("record_id", name="uq_proposal_records_record_id"),
        sa.UniqueConstraint("year", "seq", name="uq_proposal_records_year_seq"),
    )
    op.create_index("ix_proposal_records_status", "proposal_records", ["status"])
    op.create_index("ix_proposal_records_proposer_user_id", "proposal_records", ["proposer_user_id"])
    op.create_index("ix_proposal_records_thread", "proposal_records",
                    ["proposer_user_id", "channel_id", "thread_ts"])

    op.create_table(
        "record_sequences",
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_value", sa.Integer, nullable=False),
    )

    op.create_table(
        "record_status_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("record_pk", sa.Integer, sa.ForeignKey("proposal_records.pk", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("from_status", sa.String(32), nullable=True),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
    )
    op.create_index("ix_record_status_history_record_pk", "record_status_history", ["record_pk"])

    op.create_table(
        "record_idempotency",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("record_pk", sa.Integer, sa.ForeignKey("proposal_records.pk", ondelete="CASCADE"),
                  nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )

    op.create_table(
        "record_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("record_pk", sa.Integer, sa.ForeignKey("proposal_records.pk", ondelete="CASCADE"),
                  nullable=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("locked_until", _TS, nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("sent_at", _TS, nullable=True),
        sa.UniqueConstraint("dedupe_key", name="uq_record_outbox_dedupe_key"),
    )
    op.create_index("ix_record_outbox_due", "record_outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("record_outbox")
    op.drop_table("record_idempotency")
    op.drop_table("record_status_history")
    op.drop_table("record_sequences")
    op.drop_table("proposal_records")
