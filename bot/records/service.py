"""Record operations: save or submit a draft, change status with audit, list, export.

Every write is one transaction that also queues the Slack posts it causes (``outbox.enqueue``), so
a record and its notifications are never half-saved.  Every write that could be repeated (a double
click, a Slack retry, a second modal for the same thread) carries an idempotency key stored in the
same transaction: the repeat finds the earlier result instead of creating a second record.
Slack-free on purpose: the Slack listeners and the CLI are thin edges around this module.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from bot import events
from bot.city import CityProfile
from bot.config import Settings
from bot.db import Database, utcnow
from bot.records import outbox
from bot.records.fields import (
    FIELD_NAMES,
    STAFF_STATUSES,
    STATUS_NOTE,
    STATUSES,
    ProposalFields,
    can_change_status,
    display_value,
    field_label,
    status_label,
)
from bot.records.models import IdempotencyKey, ProposalRecord, RecordSequence, StatusChange, as_utc
from bot.records.prescreen import Flag, prescreen
from bot.records.validate import MAX_LENGTHS
from bot.spreadsheet import to_csv

log = logging.getLogger(__name__)

# Record numbers, dates in exports and on cards are in the city's local time.
JST = timezone(timedelta(hours=9), "JST")


class RecordError(Exception):
    """Base of the errors the edges turn into a message for the user."""


class RecordNotFound(RecordError):
    pass


class NotAllowed(RecordError):
    pass


@dataclass(frozen=True)
class SourceRef:
    """Where the proposal came from: the business's channel and thread (both optional)."""

    channel_id: str | None = None
    thread_ts: str | None = None
    permalink: str | None = None


@dataclass
class RecordView:
    """A detached snapshot of one record: safe to pass around after the session closed."""

    pk: int
    record_id: str | None
    status: str
    version: int
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    language: str
    proposer_user_id: str
    channel_id: str | None
    thread_ts: str | None
    permalink: str | None
    desk_channel_id: str | None
    desk_ts: str | None
    desk_permalink: str | None
    assigned_department: str | None
    fields: ProposalFields = field(default_factory=ProposalFields)

    @property
    def display_id(self) -> str:
        return self.record_id or f"下書き#{self.pk}"

    def to_dict(self) -> dict:
        """Flat, JSON-ready form (codes, not labels): the shape of events, exports and ``show --json``."""
        data = {"id": self.record_id, "pk": self.pk, "status": self.status,
                "status_label": status_label(self.status), "created_at": iso(self.created_at),
                "updated_at": iso(self.updated_at), "submitted_at": iso(self.submitted_at),
                "language": self.language, "proposer_user_id": self.proposer_user_id,
                "channel_id": self.channel_id, "thread_ts": self.thread_ts, "permalink": self.permalink,
                "desk_permalink": self.desk_permalink, "assigned_department": self.assigned_department}
        data.update(self.fields.as_dict())
        # Short aliases the precedents feature reads (org, asks are already named so).
        data["org"] = self.fields.org_name
        return data


@dataclass(frozen=True)
class SaveResult:
    record: RecordView
    created: bool  # a new record was made by this call
    submitted_now: bool  # this call moved it from draft to submitted
    replayed: bool = False  # the idempotency key had already been used: nothing changed


@dataclass(frozen=True)
class StatusResult:
    record: RecordView
    changed: bool
    from_status: str


def iso(value: datetime | None) -> str | None:
    return as_utc(value).astimezone(JST).isoformat(timespec="seconds") if value else None


def local_year(now: datetime) -> int:
    return as_utc(now).astimezone(JST).year


def snapshot(rec: ProposalRecord) -> RecordView:
    values = {name: getattr(rec, name) for name in FIELD_NAMES}
    values["asks"] = list(rec.asks or [])
    return RecordView(
        pk=rec.pk, record_id=rec.record_id, status=rec.status, version=rec.version,
        created_at=as_utc(rec.created_at), updated_at=as_utc(rec.updated_at),
        submitted_at=as_utc(rec.submitted_at), language=rec.language, proposer_user_id=rec.proposer_user_id,
        channel_id=rec.channel_id, thread_ts=rec.thread_ts, permalink=rec.permalink,
        desk_channel_id=rec.desk_channel_id, desk_ts=rec.desk_ts, desk_permalink=rec.desk_permalink,
        assigned_department=rec.assigned_department, fields=ProposalFields.from_dict(values))


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


@lru_cache(maxsize=8)
def doc_titles(knowledge_dir: Path) -> dict[str, str]:
    """``doc path → title`` from the front matter of the bundled Markdown, for citation labels."""
    titles: dict[str, str] = {}
    for path in sorted(knowledge_dir.rglob("*.md")):
        try:
            head = path.read_text("utf-8")[:2000]
        except OSError:
            continue
        if head.startswith("---"):
            for line in head.split("\n")[1:]:
                if line.strip() == "---":
                    break
                if line.startswith("title:"):
                    key = path.relative_to(knowledge_dir).with_suffix("").as_posix()
                    titles[key] = line.split(":", 1)[1].strip().strip("\"'")
    return titles


class RecordService:
    """The one place that writes records; see the module docstring for the guarantees."""

    def __init__(self, db: Database, settings: Settings, *, city: CityProfile | None = None,
                 on_queued: Callable[[], None] | None = None,
                 publish: Callable[..., None] | None = None) -> None:
        self.db = db
        self.settings = settings
        self.city = city
        self.on_queued = on_queued  # wakes the outbox worker after a commit that queued posts
        # How events reach other features: inline by default (CLI); the Slack edge hands them to a
        # background thread so that a listener's work (embedding a record) never delays an ack.
        self.publish = publish or events.publish

    # --- helpers -------------------------------------------------------------------------------

    def flags(self, record: RecordView) -> list[Flag]:
        if self.city is None:
            return []
        return prescreen(record.fields, self.city, doc_titles(self.settings.knowledge_dir))

    def _announce(self, view: RecordView) -> None:
        if view.record_id:
            self.publish("record_saved", settings=self.settings, record=view.to_dict())

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
            self.publish("record_deleted", settings=self.settings, record_id=view.record_id)
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


# --- export (pure) ----------------------------------------------------------------------------------

RECORD_COLUMNS: tuple[str, ...] = ("id", "status", "created_at", "updated_at", "submitted_at",
                                   "proposer_user_id", "permalink", "assigned_department", *FIELD_NAMES,
                                   "flags")
AUDIT_COLUMNS: tuple[str, ...] = ("record_id", "at", "actor", "from_status", "to_status", "note")


def record_row(record: RecordView, flags: Iterable[Flag] = ()) -> dict[str, str]:
    """One export row with Japanese labels for choices (what the desk's spreadsheets read)."""
    data = record.to_dict()
    row = {"id": record.display_id, "status": status_label(record.status)}
    for name in ("created_at", "updated_at", "submitted_at", "proposer_user_id", "permalink",
                 "assigned_department"):
        row[name] = data.get(name) or ""
    for name in FIELD_NAMES:
        value = getattr(record.fields, name)
        shown = value if name == "qa_excerpt" else display_value(name, value)
        row[name] = "" if shown == "—" else shown
    row["flags"] = " / ".join(f.id for f in flags)
    return row


def records_csv(records: Iterable[RecordView], flags_of: Callable[[RecordView], list[Flag]]) -> str:
    headers = {"id": "受付番号", "status": "ステータス", "created_at": "作成日時", "updated_at": "更新日時",
               "submitted_at": "提出日時", "proposer_user_id": "提案者（Slack）", "permalink": "相談スレッド",
               "assigned_department": "照会先の担当課", "flags": "事前確認フラグ"}
    headers.update({name: field_label(name) for name in FIELD_NAMES})
    rows = ([row[c] for c in RECORD_COLUMNS] for row in (record_row(r, flags_of(r)) for r in records))
    return to_csv([[headers[c] for c in RECORD_COLUMNS], *rows])


def records_json(records: Iterable[RecordView], flags_of: Callable[[RecordView], list[Flag]]) -> str:
    out = []
    for record in records:
        data = record.to_dict()
        data["flags"] = [f.as_dict() for f in flags_of(record)]
        out.append(data)
    return json.dumps(out, ensure_ascii=False, indent=2)


def audit_csv(rows: Iterable[dict]) -> str:
    headers = {"record_id": "受付番号", "at": "日時", "actor": "操作者（Slack）", "from_status": "変更前",
               "to_status": "変更後", "note": "メモ"}
    out = [[headers[c] for c in AUDIT_COLUMNS]]
    for row in rows:
        labelled = dict(row)
        for key in ("from_status", "to_status"):
            labelled[key] = status_label(row[key]) if row.get(key) else ""
        out.append([labelled.get(c, "") for c in AUDIT_COLUMNS])
    return to_csv(out)


def audit_json(rows: Iterable[dict]) -> str:
    return json.dumps(list(rows), ensure_ascii=False, indent=2)
