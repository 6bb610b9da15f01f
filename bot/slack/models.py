"""Tables the Slack surface keeps: processed event ids, conversation turns, feedback, hand-offs.

Everything here is *internal* data (questions businesses asked, their ratings): it lives in the
shared database so several worker processes agree on it, and it is never shown to another business.
The schema is created by the Alembic revision ``0002_slack``; keep the two in step.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, utcnow


class ProcessedEvent(Base):
    """An Events API ``event_id`` already taken by some worker: the dedupe key for Slack's retries.

    The primary key makes the claim atomic across processes: the second insert of the same id fails.
    """

    __tablename__ = "slack_processed_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class ConversationTurn(Base):
    """One question and the answer we posted, keyed by the Slack thread it belongs to.

    Follow-ups read the earlier turns of their thread as context; the records feature reads them as
    the Q&A excerpt of a draft proposal.  ``thread_ts`` is empty for ``/ppp`` answers, which are
    ephemeral and have no thread.
    """

    __tablename__ = "conversation_turns"
    __table_args__ = (Index("ix_conversation_turns_thread", "channel", "thread_ts"),
                      UniqueConstraint("ref", name="uq_conversation_turns_ref"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Random key the answer's buttons carry: known before the message is posted, unguessable, so
    # the row is written once, after Slack accepted the message (with its ts).
    ref: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32), default="")
    user: Mapped[str] = mapped_column(String(32), default="")
    ts: Mapped[str] = mapped_column(String(32), default="")  # the question's message ts
    surface: Mapped[str] = mapped_column(String(16), default="")  # dm | mention | assistant | slash
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(32), default="")
    language: Mapped[str] = mapped_column(String(8), default="ja")
    abstained: Mapped[bool] = mapped_column(Boolean, default=False)
    sources: Mapped[list] = mapped_column(JSON, default=list)
    answer_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)  # our reply's ts
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Feedback(Base):
    """👍 / 👎 on one answer, stored with the question and the answer it rates (one vote per user)."""

    __tablename__ = "slack_feedback"
    __table_args__ = (UniqueConstraint("turn_id", "user", name="uq_slack_feedback_turn_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    turn_id: Mapped[int | None] = mapped_column(ForeignKey("conversation_turns.id", ondelete="SET NULL"),
                                                nullable=True)
    user: Mapped[str] = mapped_column(String(32))
    rating: Mapped[int] = mapped_column(Integer)  # +1 or -1
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Handoff(Base):
    """A thread handed over to the desk channel; unique per answer so a double click sends once."""

    __tablename__ = "slack_handoffs"
    __table_args__ = (UniqueConstraint("turn_id", name="uq_slack_handoffs_turn"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    turn_id: Mapped[int | None] = mapped_column(ForeignKey("conversation_turns.id", ondelete="SET NULL"),
                                                nullable=True)
    channel: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32), default="")
    asker: Mapped[str] = mapped_column(String(32))
    desk_channel: Mapped[str] = mapped_column(String(32))
    desk_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PendingQuestion(Base):
    """A question Slack handed us, stored *before* the ack so that an acked question is never lost.

    Written in the same transaction as its :class:`ProcessedEvent` claim: a Slack retry of a stored
    event is a duplicate, and a retry of an event whose process died before this commit is new.
    ``status`` goes ``pending`` → ``answered`` (or ``apologized``) in the transaction that records
    the turn and queues the reply in the outbox; the outbox then delivers it until Slack takes it.
    ``owner``/``locked_until`` lease the question to the process answering it; a process that died
    leaves a lease the next start (or another worker) takes over.  ``attempts`` counts leases, so a
    question that keeps killing its answerer ends in an apology instead of a crash loop.
    """

    __tablename__ = "slack_questions"
    __table_args__ = (Index("ix_slack_questions_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    surface: Mapped[str] = mapped_column(String(16))  # dm | assistant | mention | slash
    channel: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32), default="")
    ts: Mapped[str] = mapped_column(String(32), default="")  # the question's own message ts
    user: Mapped[str] = mapped_column(String(32), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8), default="ja")
    response_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # /ppp: where the ephemeral reply goes
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(96), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(64), nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
