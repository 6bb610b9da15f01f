"""What the records feature hands around: detached record snapshots, results, errors.

Plain types with no database session behind them, so the Slack edge, the CLI and the exports can
use a record after the transaction that read it has closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.db import JST
from bot.records.fields import FIELD_NAMES, ProposalFields, status_label
from bot.records.models import ProposalRecord, as_utc

# Record numbers, dates in exports and on cards are in the city's local time.


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
