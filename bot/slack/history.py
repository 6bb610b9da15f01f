"""Conversation turns per Slack thread: context for follow-ups, Q&A excerpts for drafts.

A thread is identified by ``(channel, thread_ts)``.  The business-facing path records a turn for
every answer it queues, in the transaction that queues it (the outbox delivers it until Slack takes
it, so the asker will see it); follow-ups in the same thread read the earlier turns and pass them to the
engine as :class:`~bot.engine.Turn`.  The records feature reads them with :func:`thread_turns`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.db import Database
from bot.engine import Turn
from bot.engine.answer import Answer
from bot.slack.models import ConversationTurn

# Enough context for short follow-ups without sending a whole day's chat to the engine.
MAX_CONTEXT_TURNS = 6


@dataclass(frozen=True)
class ThreadTurn:
    """One stored exchange; has ``question``/``answer``/``category`` like :class:`~bot.engine.Turn`."""

    id: int
    ref: str
    channel: str
    thread_ts: str
    user: str
    ts: str
    question: str
    answer: str
    category: str
    language: str = "ja"
    abstained: bool = False
    surface: str = ""
    answer_ts: str | None = None
    sources: list[dict] = field(default_factory=list)

    def to_turn(self) -> Turn:
        return Turn(question=self.question, answer=self.answer, category=self.category)


def _row(t: ConversationTurn) -> ThreadTurn:
    return ThreadTurn(id=t.id, ref=t.ref, channel=t.channel, thread_ts=t.thread_ts, user=t.user, ts=t.ts,
                      question=t.question, answer=t.answer, category=t.category, language=t.language,
                      abstained=t.abstained, surface=t.surface, answer_ts=t.answer_ts,
                      sources=list(t.sources or []))


def thread_turns(db: Database, channel: str, thread_ts: str | None) -> list[ThreadTurn]:
    """Every turn of one thread, oldest first.

    An empty ``thread_ts`` (a ``/ppp`` answer, which has no thread) returns nothing: those turns of
    one channel belong to different people and must never be read as one conversation.
    """
    if not channel or not thread_ts:
        return []
    with db.session() as session:
        rows = session.scalars(select(ConversationTurn)
                               .where(ConversationTurn.channel == channel,
                                      ConversationTurn.thread_ts == thread_ts)
                               .order_by(ConversationTurn.id)).all()
        return [_row(r) for r in rows]


def context_turns(db: Database, channel: str, thread_ts: str | None) -> list[Turn]:
    """The latest turns of a thread as engine ``Turn`` objects (the history for a follow-up)."""
    return [t.to_turn() for t in thread_turns(db, channel, thread_ts)[-MAX_CONTEXT_TURNS:]]


def get_turn(db: Database, ref: object) -> ThreadTurn | None:
    """The turn an answer's button points at (``None`` for unknown or malformed references)."""
    if not isinstance(ref, str) or not ref or len(ref) > 32:
        return None
    with db.session() as session:
        row = session.scalars(select(ConversationTurn).where(ConversationTurn.ref == ref)).first()
        return _row(row) if row is not None else None


def new_ref() -> str:
    """A fresh turn reference for the buttons of an answer about to be posted."""
    return secrets.token_hex(16)


def sources_json(answer: Answer) -> list[dict]:
    return [{"title": s.title, "doc_type": s.doc_type, "section": s.section, "page": s.page,
             "text": s.text, "doc_id": s.doc_id, "chunk_id": s.chunk_id} for s in answer.sources]


def add_turn(session: Session, *, ref: str, channel: str, thread_ts: str, user: str, ts: str, surface: str,
             answer: Answer, language: str, answer_ts: str | None = None) -> ConversationTurn:
    """Add an exchange inside the caller's transaction (the answer path queues its post in the same one)."""
    row = ConversationTurn(ref=ref, channel=channel, thread_ts=thread_ts or "", user=user or "",
                           ts=ts or "", surface=surface, question=answer.question, answer=answer.text,
                           category=answer.category, language=language, abstained=answer.abstained,
                           sources=sources_json(answer), answer_ts=answer_ts)
    session.add(row)
    session.flush()
    return row


def record_turn(db: Database, *, ref: str, channel: str, thread_ts: str, user: str, ts: str, surface: str,
                answer: Answer, language: str, answer_ts: str | None = None) -> int:
    """Store an exchange in a transaction of its own."""
    with db.session() as session:
        return add_turn(session, ref=ref, channel=channel, thread_ts=thread_ts, user=user, ts=ts, surface=surface,
                        answer=answer, language=language, answer_ts=answer_ts).id


def set_answer_ts(db: Database, ref: str, answer_ts: str | None) -> None:
    """Remember where Slack put the answer once it was delivered."""
    if not answer_ts:
        return
    with db.session() as session:
        session.execute(update(ConversationTurn).where(ConversationTurn.ref == ref).values(answer_ts=answer_ts))
