"""Decoupled Slack posting: the change is saved first, the posts it causes are delivered after.

A change that must reach Slack (the desk card, the confirmation in the business's thread, a card
update) writes an ``record_outbox`` row in the same transaction as the change itself.  A worker
thread delivers due rows, retrying with exponential backoff on any failure (429 with its
``Retry-After``, 5xx, connection errors, a channel the bot was not invited to yet) until Slack takes
the post.  Because the queue is a table, a restart loses nothing: the next worker delivers what the
last one left, and several processes can share the queue (a row is leased before it is sent).
Delivery is at-least-once: a crash between Slack's "ok" and our commit can repeat one post;
handlers that can look for their own earlier post (answers do) get ``OutboxJob.resumed`` for that.

The same queue carries the business-facing answers (``bot.slack.answering``): each worker delivers
only the kinds it has handlers for, so the records worker and the answers worker share one table,
one lease protocol and one retry policy without taking each other's rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.background import Loop
from bot.db import Database, utcnow
from bot.records.models import OutboxMessage, as_utc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxJob:
    """What a handler gets: a detached copy of the row."""

    id: int
    kind: str
    record_pk: int | None
    payload: dict
    attempts: int
    # True when an earlier attempt may have reached Slack without us recording it: its lease ran out
    # (the process died mid-send) or it failed after sending (5xx, timeout).  Handlers that can
    # check whether their post already exists do so before posting again.
    resumed: bool = False


class Defer(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a handler that cannot run *yet* (the card it updates is not posted): no attempt counted."""

    def __init__(self, delay_s: float = 2.0) -> None:
        super().__init__(f"deferred {delay_s}s")
        self.delay_s = delay_s


Handler = Callable[[OutboxJob], None]


def enqueue(session: Session, kind: str, record_pk: int | None, payload: dict | None = None, *,
            dedupe_key: str | None = None, coalesce: bool = False) -> bool:
    """Queue a post inside the caller's transaction; ``False`` when an equivalent one is queued.

    ``dedupe_key`` makes a post happen once ever (one desk card per record); ``coalesce`` skips the
    row when a pending one of the same kind for the same record exists (card updates render the
    record's state at delivery, so one pending update covers any number of changes).
    """
    if dedupe_key is not None:
        exists = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
        if exists is not None:
            return False
    if coalesce:
        exists = session.scalar(select(OutboxMessage.id).where(
            OutboxMessage.kind == kind, OutboxMessage.record_pk == record_pk, OutboxMessage.status == "pending",
            OutboxMessage.locked_until.is_(None)))
        if exists is not None:
            return False
    session.add(OutboxMessage(kind=kind, record_pk=record_pk, payload=payload or {}, dedupe_key=dedupe_key,
                              status="pending", attempts=0, next_attempt_at=utcnow()))
    return True


def describe_error(exc: BaseException) -> tuple[str, float | None]:
    """A short, personal-data-free reason and the server's ``Retry-After`` when it gave one."""
    response = getattr(exc, "response", None)
    if response is not None and hasattr(response, "status_code"):
        status = getattr(response, "status_code", None)
        headers = getattr(response, "headers", None) or {}
        retry_after = None
        for key, value in dict(headers).items():
            if key.lower() == "retry-after":
                try:
                    retry_after = float(value[0] if isinstance(value, list) else value)
                except (TypeError, ValueError):
                    retry_after = None
        error = ""
        data = getattr(response, "data", None)
        if isinstance(data, dict) and isinstance(data.get("error"), str) and data["error"].isidentifier():
            error = data["error"]  # Slack's error codes only (``ratelimited``), never a body's text
        return (f"http {status} {error}".strip()[:200], retry_after)
    return (type(exc).__name__[:200], None)


class OutboxWorker:
    """Delivers due outbox rows; ``run_once`` for a single pass, ``start`` for the background thread."""

    def __init__(self, db: Database, handlers: dict[str, Handler], *, poll_s: float = 5.0,
                 base_delay_s: float = 2.0, max_delay_s: float = 300.0, lease_s: float = 120.0,
                 batch: int = 20) -> None:
        self.db = db
        self.handlers = handlers
        self.poll_s = poll_s
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.lease_s = lease_s
        self.batch = batch
        self._loop = Loop(self._pass, "records-outbox")

    # --- queue operations ----------------------------------------------------------------------

    def _due_ids(self, now: datetime) -> list[int]:
        with self.db.session() as s:
            return list(s.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now,
                       OutboxMessage.kind.in_(list(self.handlers)),
                       or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now))
                .order_by(OutboxMessage.id).limit(self.batch)))

    def _claim(self, job_id: int, now: datetime) -> OutboxJob | None:
        """Lease one row with a conditional UPDATE so that two workers never send it twice at once."""
        with self.db.session() as s:
            stale = s.scalar(select(OutboxMessage.locked_until).where(OutboxMessage.id == job_id)) is not None
            claimed = s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == job_id, OutboxMessage.status == "pending",
                       or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now))
                .values(locked_until=now + timedelta(seconds=self.lease_s))
                .execution_options(synchronize_session=False)).rowcount
            if claimed != 1:
                return None
            row = s.get(OutboxMessage, job_id)
            return OutboxJob(row.id, row.kind, row.record_pk, dict(row.payload or {}), row.attempts,
                             resumed=stale or row.attempts > 0)

    def _finish(self, job: OutboxJob, *, sent: bool, error: str | None = None, delay_s: float = 0.0,
                count_attempt: bool = True) -> None:
        with self.db.session() as s:
            row = s.get(OutboxMessage, job.id)
            if row is None:
                return
            row.locked_until = None
            if sent:
                row.status = "sent"
                row.sent_at = utcnow()
                row.last_error = None
                row.attempts = job.attempts + 1
                return
            if count_attempt:
                row.attempts = job.attempts + 1
            row.last_error = error
            row.next_attempt_at = utcnow() + timedelta(seconds=delay_s)

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Exponential backoff from ``base_delay_s``, capped, never shorter than the server asked."""
        delay = min(self.max_delay_s, self.base_delay_s * (2 ** max(0, attempts - 1)))
        return max(delay, retry_after or 0.0)

    def run_once(self) -> int:
        """Deliver every due row once; returns how many were delivered."""
        delivered = 0
        if not self.db.storage_present():
            # A deleted SQLite file still answers from the unlinked inode: delivering from it would
            # announce records that no longer exist anywhere (a phantom desk card).
            log.error("outbox paused: the database file is missing")
            return 0
        for job_id in self._due_ids(utcnow()):
            if self._loop.stopping:
                break
            delivered += self._deliver(job_id)
        return delivered

    def deliver_now(self, dedupe_key: str) -> bool:
        """Deliver the row queued under ``dedupe_key`` right away, in the caller's thread.

        The answer path calls this just after its commit, so the happy path costs no hop to the
        worker thread; a failure leaves the row pending (with its backoff) for the worker.
        """
        if not self.db.storage_present():
            return False
        with self.db.session() as s:
            job_id = s.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key,
                                                             OutboxMessage.status == "pending"))
        return job_id is not None and self._deliver(job_id) == 1

    def _deliver(self, job_id: int) -> int:
        """Lease, send and settle one row: 1 when Slack took it, 0 otherwise (retried later)."""
        job = self._claim(job_id, utcnow())
        if job is None:
            return 0
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for {job.kind}")
            handler(job)
        except Defer as d:
            self._finish(job, sent=False, error="deferred", delay_s=d.delay_s, count_attempt=False)
        except Exception as exc:  # noqa: BLE001 - every failure is retried, never dropped
            reason, retry_after = describe_error(exc)
            delay = self.backoff(job.attempts + 1, retry_after)
            log.warning("outbox %s #%s failed (attempt %s): %s; retry in %.1fs", job.kind, job.id,
                        job.attempts + 1, reason, delay)
            self._finish(job, sent=False, error=reason, delay_s=delay)
        else:
            self._finish(job, sent=True)
            return 1
        return 0

    def next_due_in(self) -> float | None:
        """Seconds until the earliest pending row is due (``None`` when the queue is empty)."""
        with self.db.session() as s:
            first = s.scalar(select(OutboxMessage.next_attempt_at)
                             .where(OutboxMessage.status == "pending", OutboxMessage.kind.in_(list(self.handlers)))
                             .order_by(OutboxMessage.next_attempt_at).limit(1))
        if first is None:
            return None
        return max(0.0, (as_utc(first) - utcnow()).total_seconds())

    # --- background thread ---------------------------------------------------------------------

    def kick(self) -> None:
        """Deliver now (called after a commit that queued something)."""
        self._loop.kick()

    def _pass(self) -> float:
        """One background pass; the wait until the next is the poll interval or the next row's due time."""
        wait = self.poll_s
        try:
            self.run_once()
            due = self.next_due_in()
            if due is not None:
                wait = min(wait, max(due, 0.05))
        except Exception:  # noqa: BLE001 - a database hiccup must not kill the worker
            log.exception("outbox pass failed; retrying in %.1fs", self.poll_s)
        return wait

    def start(self, name: str = "records-outbox") -> OutboxWorker:
        """Start the background thread; its first pass delivers whatever a previous run left."""
        self._loop.start(name)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._loop.stop(timeout)

    @property
    def running(self) -> bool:
        return self._loop.running
