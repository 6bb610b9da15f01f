"""Conversation turns per Slack thread: context for follow-ups, Q&A excerpts for drafts.

A thread is identified by ``(channel, thread_ts)``.  The business-facing path records a turn for
every answer it posts; follow-ups in the same thread read the earlier turns and pass them to the
engine as :class:`~bot.engine.Turn`.  The records feature reads them with :func:`thread_turns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update

from bot.answer import Answer
from bot.db import Database
from bot.engine import Turn
from bot.slack.models import ConversationTurn

# Enough context for short follow-ups without sending a whole day's chat to the engine.
MAX_CONTEXT_TURNS = 6


@dataclass(frozen=True)
class ThreadTurn:
    """One stored exchange; has ``question``/``answer``/``category`` like :class:`~bot.engine.Turn`."""

    id: int
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
    return ThreadTurn(id=t.id, channel=t.channel, thread_ts=t.thread_ts, user=t.user, ts=t.ts,
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


def get_turn(db: Database, turn_id: int) -> ThreadTurn | None:
    with db.session() as session:
        row = session.get(ConversationTurn, turn_id)
        return _row(row) if row is not None else None


def sources_json(answer: Answer) -> list[dict]:
    return [{"title": s.title, "doc_type": s.doc_type, "section": s.section, "page": s.page,
             "text": s.text, "doc_id": s.doc_id, "chunk_id": s.chunk_id} for s in answer.sources]


def record_turn(db: Database, *, channel: str, thread_ts: str, user: str, ts: str, surface: str,
                answer: Answer, language: str) -> int:
    """Store the exchange before posting it, so the buttons can carry the turn's id."""
    with db.session() as session:
        row = ConversationTurn(channel=channel, thread_ts=thread_ts or "", user=user or "", ts=ts or "",
                               surface=surface, question=answer.question, answer=answer.text,
                               category=answer.category, language=language, abstained=answer.abstained,
                               sources=sources_json(answer))
        session.add(row)
        session.flush()
        return row.id


def set_answer_ts(db: Database, turn_id: int, answer_ts: str) -> None:
    with db.session() as session:
        session.execute(update(ConversationTurn).where(ConversationTurn.id == turn_id)
                        .values(answer_ts=answer_ts))
