"""The durable question store: what was asked, who holds it, and whether it was answered.

A question is written before Slack gets its ack (:func:`receive`, one transaction with the event
claim), leased by the process that answers it (:func:`lease`), and settled in the transaction that
queues its reply (:func:`settle`).  Whatever a dead process held is found again by
:func:`recoverable` — at the next start, or by another worker — so no acked question is lost.

Leases name their owner (``host:pid:nonce``).  A lease normally ends when it expires; on the same
host a lease whose process is gone is taken over at once, so a restart after ``kill -9`` does not
wait out the lease.  Every take-over is a compare-and-set on the owner, so two processes never
answer one question, and settling is conditional on still holding the lease.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import Database, utcnow
from bot.records.models import as_utc
from bot.slack.models import PendingQuestion, ProcessedEvent

# Long enough for a burst queued behind the one engine thread plus an LLM call; a dead owner on
# this host is detected without waiting for it.
LEASE = timedelta(seconds=120)
# Answered questions are kept a while for inspection; the turns table keeps the exchange itself.
KEEP = timedelta(days=7)

_HOST = socket.gethostname()[:40]

# Keys of Bolt's request context under which the intake middleware hands its result to listeners.
QUESTION_ID = "ppp_question_id"
INTAKE_FAILED = "ppp_question_not_stored"


def process_owner() -> str:
    """This process's lease owner id; the nonce tells a restarted process from its predecessor."""
    global _OWNER
    if _OWNER is None or not _OWNER.startswith(f"{_HOST}:{os.getpid()}:"):  # changed after a fork
        _OWNER = f"{_HOST}:{os.getpid()}:{secrets.token_hex(6)}"
    return _OWNER


_OWNER: str | None = None


def owner_is_gone(owner: str | None) -> bool:
    """True only when ``owner`` certainly no longer runs (same host, its process is gone)."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text, _, _nonce = rest.partition(":")
    if owner == process_owner() or host != _HOST or not pid_text.isdigit():
        return False  # ourselves, or another host: only the lease's expiry can tell
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # our pid with another nonce: the process we replaced (a container restart)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class QuestionIn:
    """A question as Slack delivered it (text already stripped of the bot's mention)."""

    surface: str
    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str
    language: str
    response_url: str | None = None


@dataclass(frozen=True)
class Question(QuestionIn):
    """A stored question leased to this process."""

    id: int = 0
    attempts: int = 0
    event_id: str | None = None


def receive(db: Database, q: QuestionIn, *, event_id: str | None = None, kind: str = "") -> int | None:
    """Claim ``event_id`` and store the question in one transaction; ``None`` for a duplicate.

    The question is leased to this process from the start, so other workers leave it alone while
    it waits for the engine thread.  Raises ``SQLAlchemyError`` when the database cannot take it.
    """
    now = utcnow()
    try:
        with db.session() as s:
            if event_id:
                s.add(ProcessedEvent(event_id=event_id[:64], kind=kind[:64], received_at=now))
                s.flush()  # the primary key decides who owns the event, before anything else
            row = PendingQuestion(event_id=(event_id or None) and event_id[:64], surface=q.surface,
                                  channel=q.channel, thread_ts=q.thread_ts or "", ts=q.ts or "", user=q.user or "",
                                  text=q.text, language=q.language, response_url=q.response_url,
                                  status="pending", attempts=0, owner=process_owner(),
                                  locked_until=now + LEASE, next_attempt_at=now, received_at=now)
            s.add(row)
            s.flush()
            return row.id
    except IntegrityError:
        if event_id:
            return None
        raise


def lease(db: Database, question_id: int, *, steal_from: str | None = None) -> Question | None:
    """Take the question for answering (``None`` when it is settled or another live process has it).

    Without ``steal_from`` the lease is free, expired or already ours; with it, the lease must still
    be held by that (dead) owner.  Every lease counts an attempt, crashes included.
    """
    now = utcnow()
    me = process_owner()
    conds = [PendingQuestion.id == question_id, PendingQuestion.status == "pending"]
    if steal_from is not None:
        conds.append(PendingQuestion.owner == steal_from)
    else:
        conds.append(or_(PendingQuestion.locked_until.is_(None), PendingQuestion.locked_until < now,
                         PendingQuestion.owner == me))
    with db.session() as s:
        taken = s.execute(update(PendingQuestion).where(*conds)
                          .values(owner=me, locked_until=now + LEASE, attempts=PendingQuestion.attempts + 1)
                          .execution_options(synchronize_session=False)).rowcount
        if taken != 1:
            return None
        row = s.get(PendingQuestion, question_id)
        return Question(surface=row.surface, channel=row.channel, thread_ts=row.thread_ts, ts=row.ts,
                        user=row.user, text=row.text, language=row.language, response_url=row.response_url,
                        id=row.id, attempts=row.attempts, event_id=row.event_id)


def settle(session: Session, question_id: int, status: str) -> bool:
    """Mark the question ``answered``/``apologized`` inside the caller's transaction, if still ours."""
    done = session.execute(update(PendingQuestion)
                           .where(PendingQuestion.id == question_id, PendingQuestion.status == "pending",
                                  PendingQuestion.owner == process_owner())
                           .values(status=status, finished_at=utcnow(), locked_until=None)
                           .execution_options(synchronize_session=False)).rowcount
    return done == 1


def release(db: Database, question_id: int, *, retry_in_s: float, error: str) -> None:
    """Give the lease back after a failed attempt; the question is due again in ``retry_in_s``."""
    with db.session() as s:
        s.execute(update(PendingQuestion)
                  .where(PendingQuestion.id == question_id, PendingQuestion.owner == process_owner(),
                         PendingQuestion.status == "pending")
                  .values(locked_until=None, next_attempt_at=utcnow() + timedelta(seconds=retry_in_s),
                          last_error=error[:64])
                  .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class Recoverable:
    """A pending question nobody alive is answering: its id and the dead owner to take it from."""

    id: int
    steal_from: str | None


def recoverable(db: Database, *, limit: int = 100) -> list[Recoverable]:
    """Pending questions that are due and free, expired, or held by a process that is gone."""
    now = utcnow()
    me = process_owner()
    with db.session() as s:
        rows = s.execute(select(PendingQuestion.id, PendingQuestion.owner, PendingQuestion.locked_until)
                         .where(PendingQuestion.status == "pending", PendingQuestion.next_attempt_at <= now)
                         .order_by(PendingQuestion.id).limit(limit)).all()
    found: list[Recoverable] = []
    for qid, owner, locked_until in rows:
        until: datetime | None = as_utc(locked_until)
        if until is None or until < now:
            found.append(Recoverable(qid, None))
        elif owner != me and owner_is_gone(owner):
            found.append(Recoverable(qid, owner))
    return found


def pending_count(db: Database) -> int:
    """How many questions wait for an answer (for logs and the fault benchmark)."""
    with db.session() as s:
        return len(s.scalars(select(PendingQuestion.id).where(PendingQuestion.status == "pending")).all())


def prune(db: Database) -> None:
    """Forget settled questions older than :data:`KEEP` (the conversation turns keep the exchange)."""
    with db.session() as s:
        s.execute(delete(PendingQuestion).where(PendingQuestion.status != "pending",
                                                PendingQuestion.received_at < utcnow() - KEEP))
