"""Tables of the records feature (created by migration ``0003_records``).

- ``proposal_records``: one row per proposal, draft or submitted, with every field the desk asks for.
  The human id (``P-2026-0001``) is given at submission from ``record_sequences``, a per-year
  counter bumped with one atomic upsert, so numbers are gap-free for submitted proposals and two
  workers (or two processes on PostgreSQL) can never draw the same number.
- ``record_status_history``: the audit trail (who, when, from → to, note) exported for records
  requests.  Only the desk's deliberate steps are stored; replies in the desk channel's card thread
  (staff notes) are never read into any table.
- ``record_idempotency``: keys of already-handled submissions and clicks, so a retried or
  double-clicked action finds its earlier result instead of creating a second record.
- ``record_outbox``: Slack posts waiting for delivery, written in the same transaction as the
  change that caused them (transactional outbox) and removed from the queue only once Slack took them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, utcnow


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC, so say so."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class ProposalRecord(Base):
    __tablename__ = "proposal_records"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str | None] = mapped_column(String(20), unique=True)  # P-2026-0001, set at submit
    year: Mapped[int | None] = mapped_column(Integer)
    seq: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), default="draft", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    language: Mapped[str] = mapped_column(String(8), default="ja")

    # Where it came from and who proposed it.
    proposer_user_id: Mapped[str] = mapped_column(String(32), index=True)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(Text)

    # Where the desk card lives once posted (for chat.update).
    desk_channel_id: Mapped[str | None] = mapped_column(String(32))
    desk_ts: Mapped[str | None] = mapped_column(String(32))
    desk_permalink: Mapped[str | None] = mapped_column(Text)
    assigned_department: Mapped[str | None] = mapped_column(String(200))

    # The fields of bot.records.fields.ProposalFields.
    org_name: Mapped[str] = mapped_column(String(200), default="")
    org_type: Mapped[str] = mapped_column(String(32), default="")
    org_department: Mapped[str] = mapped_column(String(200), default="")
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    city_issue: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="")
    scheme: Mapped[str] = mapped_column(String(16), default="")
    asks: Mapped[list] = mapped_column(JSON, default=list)
    cost_burden: Mapped[str] = mapped_column(String(16), default="")
    schedule: Mapped[str] = mapped_column(String(500), default="")
    place: Mapped[str] = mapped_column(String(500), default="")
    personal_info: Mapped[str] = mapped_column(String(16), default="")
    third_party_ip: Mapped[str] = mapped_column(String(16), default="")
    qa_excerpt: Mapped[str] = mapped_column(Text, default="")

    history: Mapped[list[StatusChange]] = relationship(
        back_populates="record", cascade="all, delete-orphan", order_by="StatusChange.id")

    __table_args__ = (
        UniqueConstraint("year", "seq", name="uq_proposal_records_year_seq"),
        Index("ix_proposal_records_thread", "proposer_user_id", "channel_id", "thread_ts"),
    )
    # Optimistic locking: two staff pressing buttons at once cannot silently overwrite each other.
    __mapper_args__ = {"version_id_col": version}


class RecordSequence(Base):
    """The last number handed out per year (``P-<year>-<number>``)."""

    __tablename__ = "record_sequences"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer, nullable=False)


class StatusChange(Base):
    """One row of the audit trail: who moved which record from what to what, when, and why."""

    __tablename__ = "record_status_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_pk: Mapped[int] = mapped_column(ForeignKey("proposal_records.pk", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)

    record: Mapped[ProposalRecord] = relationship(back_populates="history")


class IdempotencyKey(Base):
    __tablename__ = "record_idempotency"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    record_pk: Mapped[int | None] = mapped_column(ForeignKey("proposal_records.pk", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OutboxMessage(Base):
    """A Slack post to deliver; ``status`` is ``pending`` until Slack accepted it, then ``sent``."""

    __tablename__ = "record_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    record_pk: Mapped[int | None] = mapped_column(ForeignKey("proposal_records.pk", ondelete="CASCADE"))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_record_outbox_due", "status", "next_attempt_at"),)
