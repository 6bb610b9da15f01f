"""Record operations: save or submit a draft, change status with audit, list, export.

Every write is one transaction that also queues the Slack posts it causes (``outbox.enqueue``), so
a record and its notifications are never half-saved.  Every write that could be repeated (a double
click, a Slack retry, a second modal for the same thread) carries an idempotency key stored in the
same transaction: the repeat finds the earlier result instead of creating a second record.
Slack-free on purpose: the Slack listeners and the CLI are thin edges around this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from bot.city import CityProfile
from bot.config import Settings
from bot.db import Database, utcnow
from bot.records import outbox
from bot.records.fields import STAFF_STATUSES, STATUS_NOTE, STATUSES, ProposalFields, can_change_status
from bot.records.models import IdempotencyKey, ProposalRecord, RecordSequence, StatusChange
from bot.records.prescreen import Flag, prescreen
from bot.records.validate import MAX_LENGTHS
from bot.records.views import (
    NotAllowed,
    RecordNotFound,
    RecordView,
    SaveResult,
    SourceRef,
    StatusResult,
    iso,
    local_year,
    snapshot,
)
from ingest.store import document_titles

log = logging.getLogger(__name__)


class RecordListener(Protocol):
    """Told about every submitted or changed record and every deleted one (the precedent index)."""

    def record_saved(self, record: dict) -> None: ...

    def record_deleted(self, record_id: str) -> None: ...


def next_sequence(session: Session, year: int) -> int:
    """Draw the next number of ``year`` with one atomic upsert.

    PostgreSQL locks the counter row until the transaction ends and SQLite serializes writers, so
    concurrent submissions get distinct numbers; a rolled-back submission gives its number back.
    """
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = (insert(RecordSequence).values(year=year, last_value=1)
                .on_conflict_do_update(index_elements=[RecordSequence.year],
                                       set_={"last_value": RecordSequence.last_value + 1})
                .returning(RecordSequence.last_value))
        return int(session.execute(stmt).scalar_one())
    bumped = session.execute(update(RecordSequence).where(RecordSequence.year == year)
                             .values(last_value=RecordSequence.last_value + 1)).rowcount
    if not bumped:
        session.add(RecordSequence(year=year, last_value=1))
        session.flush()
    return int(session.scalar(select(RecordSequence.last_value).where(RecordSequence.year == year)))


def _clip(fields: ProposalFields) -> ProposalFields:
    """Bound every text to its column (Slack enforces max_length too; the CLI and tests may not)."""
    data = fields.as_dict()
    for name, limit in MAX_LENGTHS.items():
        data[name] = (data.get(name) or "")[:limit]
    return ProposalFields.from_dict(data)


class RecordService:
    """The one place that writes records; see the module docstring for the guarantees."""

    def __init__(self, db: Database, settings: Settings, *, city: CityProfile | None = None,
                 on_queued: Callable[[], None] | None = None, listeners: Sequence[RecordListener] = ()) -> None:
        self.db = db
        self.settings = settings
        self.city = city
        self.on_queued = on_queued  # wakes the outbox worker after a commit that queued posts
        # Told after each commit, in order.  The Slack edge runs them on a background thread so
        # that their work (embedding a record) never delays an ack.
        self.listeners = list(listeners)
        self._titles: dict[str, str] | None = None

    # --- helpers -------------------------------------------------------------------------------

    def titles(self) -> dict[str, str]:
        """``doc id → title`` of the ingested documents (the store's manifest), for citation labels."""
        if self._titles is None:
            try:
                self._titles = document_titles(self.settings)
            except Exception as exc:  # noqa: BLE001 - labels fall back to the rule's own source name
                log.warning("records: document titles unavailable (%s)", type(exc).__name__)
                return {}
        return self._titles

    def flags(self, record: RecordView) -> list[Flag]:
        if self.city is None:
            return []
        return prescreen(record.fields, self.city, self.titles())

    def _tell(self, event: str, value: object) -> None:
        """Each listener hears it; a failing listener is logged and never undoes the write."""
        for listener in self.listeners:
            try:
                getattr(listener, event)(value)
            except Exception:  # noqa: BLE001
                log.exception("records: %s listener failed", event)

    def _announce(self, view: RecordView) -> None:
        if view.record_id:
            self._tell("record_saved", view.to_dict())

    def _queued(self) -> None:
        if self.on_queued is not None:
            self.on_queued()

    def _retrying(self, fn: Callable[[Session], object]) -> object:
        """Run ``fn`` in a transaction; once more on a lost race (unique key, stale version)."""
        for attempt in range(3):
            try:
                with self.db.session() as session:
                    return fn(session)
            except (IntegrityError, StaleDataError):
                if attempt == 2:
                    raise
                log.info("records: concurrent write detected, retrying")
        raise AssertionError("unreachable")

    # --- drafts and submission -----------------------------------------------------------------

    def save(self, fields: ProposalFields, *, proposer: str, submit: bool, idem_key: str | None = None,
             record_pk: int | None = None, source: SourceRef | None = None, language: str = "ja",
             actor: str | None = None, staff: bool = False) -> SaveResult:
        """Create or update a draft and, with ``submit``, submit it (number, audit, outbox posts).

        ``idem_key`` identifies the submission (the business's thread, or the modal's view id): a
        repeat with the same key returns the record made the first time.  ``record_pk`` continues an
        existing draft; only its proposer (or staff) may do that.
        """
        source = source or SourceRef()
        actor = actor or proposer
        fields = _clip(fields)

        def work(s: Session) -> SaveResult:
            rec: ProposalRecord | None = None
            key_row = s.get(IdempotencyKey, idem_key) if idem_key else None
            if key_row is not None and key_row.record_pk is not None:
                rec = s.get(ProposalRecord, key_row.record_pk)
            if rec is None and record_pk is not None:
                rec = s.get(ProposalRecord, record_pk)
                if rec is None:
                    raise RecordNotFound(f"draft #{record_pk}")
            if rec is not None and rec.proposer_user_id != proposer and not staff:
                raise NotAllowed("only the proposer may edit this draft")
            if rec is not None and rec.status != "draft":
                return SaveResult(snapshot(rec), created=False, submitted_now=False, replayed=True)
            created = rec is None
            now = utcnow()
            if created:
                if idem_key and key_row is None:
                    # Claim the key first: a concurrent twin blocks here and then fails cleanly.
                    key_row = IdempotencyKey(key=idem_key, created_at=now)
                    s.add(key_row)
                    s.flush()
                rec = ProposalRecord(proposer_user_id=proposer, status="draft", created_at=now, updated_at=now,
                                     language=language, channel_id=source.channel_id,
                                     thread_ts=source.thread_ts, permalink=source.permalink)
                s.add(rec)
                s.flush()
                if key_row is not None:
                    key_row.record_pk = rec.pk
                s.add(StatusChange(record_pk=rec.pk, at=now, actor=actor, from_status=None, to_status="draft"))
            elif idem_key and key_row is None:
                s.add(IdempotencyKey(key=idem_key, record_pk=rec.pk, created_at=now))
            for name, value in fields.as_dict().items():
                setattr(rec, name, value)
            rec.language = language or rec.language
            rec.permalink = rec.permalink or source.permalink
            rec.updated_at = now
            if submit:
                year = local_year(now)
                seq = next_sequence(s, year)
                rec.year, rec.seq, rec.record_id = year, seq, f"P-{year}-{seq:04d}"
                rec.status = "submitted"
                rec.submitted_at = now
                s.add(StatusChange(record_pk=rec.pk, at=now, actor=actor, from_status="draft",
                                   to_status="submitted"))
                outbox.enqueue(s, "business_message", rec.pk, {"template": "submitted"},
                               dedupe_key=f"submitted:{rec.pk}")
                outbox.enqueue(s, "desk_card", rec.pk, {}, dedupe_key=f"desk_card:{rec.pk}")
            s.flush()
            return SaveResult(snapshot(rec), created=created, submitted_now=submit)

        result = self._retrying(work)
        assert isinstance(result, SaveResult)
        if result.submitted_now:
            self._queued()
            self._announce(result.record)
        return result

    def delete(self, *, record_pk: int | None = None, record_id: str | None = None, actor: str,
               staff: bool = False) -> RecordView:
        """Delete a draft (its proposer) or any record (staff, e.g. a withdrawn proposal)."""
        def work(s: Session) -> RecordView:
            rec = self._load(s, record_pk=record_pk, record_id=record_id)
            if not staff and (rec.proposer_user_id != actor or rec.status != "draft"):
                raise NotAllowed("only the proposer may delete a draft")
            view = snapshot(rec)
            s.delete(rec)
            return view

        view = self._retrying(work)
        assert isinstance(view, RecordView)
        log.info("records: %s deleted", view.display_id)
        if view.record_id:
            self._tell("record_deleted", view.record_id)
        return view

    # --- the desk's steps ----------------------------------------------------------------------

    def change_status(self, record_id: str, to_status: str, *, actor: str, note: str | None = None,
                      idem_key: str | None = None) -> StatusResult:
        """Move a submitted record to one of the desk's steps: audit row, card update, business told.

        The caller has checked that ``actor`` is staff.  Repeating a step without a note is a no-op
        (double click), and an ``idem_key`` already used returns without changing anything.
        """
        if to_status not in STAFF_STATUSES:
            raise NotAllowed(f"unknown status {to_status}")
        note = (note or "").strip()[:2000] or None
        if to_status in STATUS_NOTE and not note:
            raise NotAllowed(f"{to_status} needs a {STATUS_NOTE[to_status]}")

        def work(s: Session) -> StatusResult:
            rec = self._load(s, record_id=record_id)
            current = rec.status
            if idem_key and s.get(IdempotencyKey, idem_key) is not None:
                return StatusResult(snapshot(rec), changed=False, from_status=current)
            if not can_change_status(current, to_status, note):
                if current == "draft":
                    raise NotAllowed("a draft has not been submitted yet")
                return StatusResult(snapshot(rec), changed=False, from_status=current)
            now = utcnow()
            if idem_key:
                s.add(IdempotencyKey(key=idem_key, record_pk=rec.pk, created_at=now))
            rec.status = to_status
            rec.updated_at = now
            if to_status == "department_inquiry":
                rec.assigned_department = note
            s.add(StatusChange(record_pk=rec.pk, at=now, actor=actor, from_status=current, to_status=to_status,
                               note=note))
            outbox.enqueue(s, "card_update", rec.pk, {}, coalesce=True)
            # The business hears about the step; the department asked stays internal, a reason or
            # a request for information is meant for the business and goes with it.
            told = note if to_status in ("declined", "info_requested") else None
            outbox.enqueue(s, "business_message", rec.pk, {"template": "status", "to": to_status, "note": told})
            s.flush()
            return StatusResult(snapshot(rec), changed=True, from_status=current)

        result = self._retrying(work)
        assert isinstance(result, StatusResult)
        if result.changed:
            log.info("records: %s %s -> %s", result.record.display_id, result.from_status, to_status)
            self._queued()
            self._announce(result.record)
        return result

    def set_card(self, record_pk: int, *, channel: str, ts: str, permalink: str | None) -> None:
        """Remember where the desk card was posted (for later ``chat.update``)."""
        with self.db.session() as s:
            s.execute(update(ProposalRecord).where(ProposalRecord.pk == record_pk)
                      .values(desk_channel_id=channel, desk_ts=ts, desk_permalink=permalink)
                      .execution_options(synchronize_session=False))

    def set_permalink(self, record_pk: int, permalink: str) -> None:
        with self.db.session() as s:
            s.execute(update(ProposalRecord).where(ProposalRecord.pk == record_pk)
                      .values(permalink=permalink).execution_options(synchronize_session=False))

    def set_thread(self, record_pk: int, *, channel: str, thread_ts: str) -> None:
        """Adopt the confirmation message as the business's thread when the draft had none."""
        with self.db.session() as s:
            s.execute(update(ProposalRecord)
                      .where(ProposalRecord.pk == record_pk, ProposalRecord.thread_ts.is_(None))
                      .values(channel_id=channel, thread_ts=thread_ts)
                      .execution_options(synchronize_session=False))

    # --- reading -------------------------------------------------------------------------------

    @staticmethod
    def _load(s: Session, *, record_pk: int | None = None, record_id: str | None = None) -> ProposalRecord:
        rec = None
        if record_pk is not None:
            rec = s.get(ProposalRecord, record_pk)
        elif record_id:
            rec = s.scalar(select(ProposalRecord).where(ProposalRecord.record_id == record_id.strip().upper()))
        if rec is None:
            raise RecordNotFound(record_id or f"#{record_pk}")
        return rec

    def get(self, *, record_pk: int | None = None, record_id: str | None = None) -> RecordView:
        with self.db.session() as s:
            return snapshot(self._load(s, record_pk=record_pk, record_id=record_id))

    def find_for_thread(self, proposer: str, channel: str | None, thread_ts: str | None) -> RecordView | None:
        """The business's latest record started from this thread (to continue it, not duplicate it)."""
        if not channel or not thread_ts:
            return None
        with self.db.session() as s:
            rec = s.scalar(select(ProposalRecord).where(
                ProposalRecord.proposer_user_id == proposer, ProposalRecord.channel_id == channel,
                ProposalRecord.thread_ts == thread_ts).order_by(ProposalRecord.pk.desc()).limit(1))
            return snapshot(rec) if rec else None

    def list(self, *, status: str | None = None, proposer: str | None = None, include_drafts: bool = False,
             limit: int | None = None) -> list[RecordView]:
        """Newest first.  Drafts are the business's own until submitted: listed only on request."""
        with self.db.session() as s:
            query = select(ProposalRecord).order_by(ProposalRecord.updated_at.desc(), ProposalRecord.pk.desc())
            if status:
                query = query.where(ProposalRecord.status == status)
            elif not include_drafts:
                query = query.where(ProposalRecord.status != "draft")
            if proposer:
                query = query.where(ProposalRecord.proposer_user_id == proposer)
            if limit:
                query = query.limit(limit)
            return [snapshot(r) for r in s.scalars(query)]

    def counts(self) -> dict[str, int]:
        """Submitted records per status (the staff queue's headline)."""
        with self.db.session() as s:
            rows = s.execute(select(ProposalRecord.status, func.count()).where(ProposalRecord.status != "draft")
                             .group_by(ProposalRecord.status)).all()
        counts = dict.fromkeys((k for k in STATUSES if k != "draft"), 0)
        counts.update({status: int(n) for status, n in rows})
        return counts

    def history(self, record_id: str | None = None) -> list[dict]:
        """The audit trail (all records, or one), oldest first, as plain rows for export."""
        with self.db.session() as s:
            query = (select(StatusChange, ProposalRecord.record_id, ProposalRecord.pk)
                     .join(ProposalRecord, ProposalRecord.pk == StatusChange.record_pk)
                     .order_by(StatusChange.at, StatusChange.id))
            if record_id:
                query = query.where(ProposalRecord.record_id == record_id.strip().upper())
            return [{"record_id": rid or f"下書き#{pk}", "at": iso(ch.at), "actor": ch.actor,
                     "from_status": ch.from_status or "", "to_status": ch.to_status, "note": ch.note or ""}
                    for ch, rid, pk in s.execute(query)]


