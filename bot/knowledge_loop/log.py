"""The question log: every business question with its outcome, masked, kept for a limited time.

What the bot missed (abstentions, 👎, hand-offs) is what the desk should teach it next; this log is
where those questions wait, grouped by meaning in ``gaps``.  Text is masked before it is stored and
rows older than ``QUESTION_RETENTION_DAYS`` are deleted by :meth:`QuestionLog.purge`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import delete, select, update

from bot.db import Database, utcnow
from bot.knowledge_loop.mask import mask_personal
from bot.knowledge_loop.models import QuestionLogEntry

OUTCOMES = ("answered", "abstained", "refused")


def outcome_of(answer) -> str:
    """answered | abstained | refused, from an engine Answer."""
    if answer.mode == "refusal":
        return "refused"
    return "abstained" if answer.abstained else "answered"


def pack_vector(vector) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float16).tobytes()


def unpack_vector(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float16).astype(np.float32)


class QuestionLog:
    def __init__(self, db: Database, retention_days: int = 180) -> None:
        self.db = db
        self.retention_days = retention_days

    def record(self, question: str, *, outcome: str, category: str = "", language: str = "ja",
               surface: str = "", turn_ref: str | None = None, vector=None,
               at: datetime | None = None) -> int:
        """Log one question (masked here, whatever the caller passes)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; one of {OUTCOMES}")
        with self.db.session() as s:
            entry = QuestionLogEntry(question=mask_personal(question)[:4000], outcome=outcome, category=category,
                                     language=language, surface=surface, turn_ref=turn_ref,
                                     vector=pack_vector(vector), asked_at=at or utcnow(), handed_off=False)
            s.add(entry)
            s.flush()
            return entry.id

    def feedback(self, turn_ref: str, rating: int) -> None:
        """👍 (+1) or 👎 (-1) on the answer to the logged question of ``turn_ref``."""
        with self.db.session() as s:
            s.execute(update(QuestionLogEntry).where(QuestionLogEntry.turn_ref == turn_ref)
                      .values(feedback=1 if rating > 0 else -1))

    def handed_off(self, turn_ref: str) -> None:
        with self.db.session() as s:
            s.execute(update(QuestionLogEntry).where(QuestionLogEntry.turn_ref == turn_ref)
                      .values(handed_off=True))

    def purge(self, now: datetime | None = None) -> int:
        """Delete rows older than the retention period; returns how many."""
        cutoff = (now or utcnow()) - timedelta(days=self.retention_days)
        with self.db.session() as s:
            return s.execute(delete(QuestionLogEntry).where(QuestionLogEntry.asked_at < cutoff)).rowcount or 0

    def misses(self, since: datetime | None = None, limit: int = 10_000) -> list[QuestionLogEntry]:
        """What the bot could not answer or got 👎 for and no approved answer covers yet, newest first."""
        q = (select(QuestionLogEntry)
             .where((QuestionLogEntry.outcome == "abstained") | (QuestionLogEntry.feedback == -1)
                    | QuestionLogEntry.handed_off.is_(True))
             .where(QuestionLogEntry.addressed_by.is_(None))
             .order_by(QuestionLogEntry.asked_at.desc()).limit(limit))
        if since is not None:
            q = q.where(QuestionLogEntry.asked_at >= since)
        with self.db.session() as s:
            return list(s.scalars(q))

    def close(self, ids: set[int], answer_id: str) -> int:
        """Mark missed questions as answered by ``answer_id`` (they leave the gap list); returns how many."""
        if not ids:
            return 0
        with self.db.session() as s:
            return s.execute(update(QuestionLogEntry).where(QuestionLogEntry.id.in_(sorted(ids)))
                             .where(QuestionLogEntry.addressed_by.is_(None))
                             .values(addressed_by=answer_id)).rowcount or 0

    def reopen(self, answer_id: str) -> int:
        """The questions ``answer_id`` closed are gaps again (it was withdrawn); returns how many."""
        with self.db.session() as s:
            return s.execute(update(QuestionLogEntry).where(QuestionLogEntry.addressed_by == answer_id)
                             .values(addressed_by=None)).rowcount or 0
