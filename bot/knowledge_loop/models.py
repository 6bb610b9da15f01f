"""Tables of the knowledge loop (created by migrations 0005 and 0006)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, utcnow


class QuestionLogEntry(Base):
    """One question a business asked, masked, with what became of it.

    Only masked text is stored here (emails, phone numbers, names replaced), with the question's
    e5 vector for grouping gaps by meaning; rows older than the retention period are deleted.
    """

    __tablename__ = "question_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    turn_ref: Mapped[str | None] = mapped_column(String(32), index=True)  # conversation_turns.ref
    surface: Mapped[str] = mapped_column(String(16), default="")
    language: Mapped[str] = mapped_column(String(8), default="ja")
    question: Mapped[str] = mapped_column(Text)  # masked
    outcome: Mapped[str] = mapped_column(String(16))  # answered | abstained | refused
    category: Mapped[str] = mapped_column(String(32), default="")
    feedback: Mapped[int | None] = mapped_column(Integer, nullable=True)  # +1 / -1
    handed_off: Mapped[bool] = mapped_column(Boolean, default=False)
    vector: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # float16 e5 vector
    # The approved desk answer (DA-0001) that now answers this question: it leaves the gap list, and
    # comes back if that answer is withdrawn.
    addressed_by: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)

    __table_args__ = (Index("ix_question_log_outcome_asked", "outcome", "asked_at"),)


class DeskAnswer(Base):
    """A staff answer approved for the public knowledge (the only door from Slack into it)."""

    __tablename__ = "desk_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[str] = mapped_column(String(20), unique=True)  # DA-0001
    question: Mapped[str] = mapped_column(Text)  # generalized: no person, no company
    answer: Mapped[str] = mapped_column(Text)
    approver: Mapped[str] = mapped_column(String(64))
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    withdrawn_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_turn_ref: Mapped[str | None] = mapped_column(String(32), nullable=True)


class LoopAudit(Base):
    """Who approved or withdrew which answer (or added or removed which document), when."""

    __tablename__ = "knowledge_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))  # approve | withdraw | add_document | remove_document
    target: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
