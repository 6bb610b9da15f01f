"""What ``/healthz`` checks: everything serving needs, not merely that the process is alive.

A green check with a read-only database or a deleted data directory sent businesses into
silence and confirmed submissions that were stored nowhere.  :func:`problems` writes and reads
the database (in one transaction that leaves nothing behind) and checks that the stores the
engine reads are on disk; each problem is a short code for the response and the log.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, select

from bot.config import Settings
from bot.db import Database, utcnow
from bot.slack.models import ProcessedEvent


def _write_read(db: Database) -> bool:
    probe = "healthz:" + secrets.token_hex(8)
    with db.session() as s:
        s.add(ProcessedEvent(event_id=probe, kind="healthz", received_at=utcnow()))
        s.flush()
        found = s.scalar(select(ProcessedEvent.event_id).where(ProcessedEvent.event_id == probe))
        s.execute(delete(ProcessedEvent).where(ProcessedEvent.event_id == probe))
    return found == probe


def problems(settings: Settings, db: Database) -> list[str]:
    """Short codes of what is wrong (empty when serving can go on)."""
    out: list[str] = []
    if not db.storage_present():
        out.append("database_file_missing")
    try:
        if not _write_read(db):
            out.append("database_read_mismatch")
    except Exception:  # noqa: BLE001 - any failure to write and read back is the answer
        out.append("database_write_failed")
    stores = [settings.lexical_dir] + ([] if settings.chroma_host else [settings.chroma_dir])
    out += [f"store_missing:{path.name}" for path in stores if not path.is_dir()]
    return out
