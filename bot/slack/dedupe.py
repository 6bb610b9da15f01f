"""At-most-once handling of Slack events across every worker process.

Slack redelivers an event when it did not see our ack in 3 seconds (``X-Slack-Retry-Num``) and
occasionally sends the same ``event_id`` twice; deliveries can reach different workers.  Every
delivery is acknowledged at once; then, in the lazy part of the listener, the first worker to
insert the ``event_id`` into the shared database owns the event and the others drop it.  Claims
happen only for signature-verified requests, so a forged request cannot poison the table, and
the ack never waits for a database write.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from bot.db import Database, utcnow
from bot.slack.logs import kv
from bot.slack.models import ProcessedEvent

log = logging.getLogger(__name__)

# Slack retries for about an hour at most; a day of ids is plenty and keeps the table small.
KEEP = timedelta(days=1)
_PRUNE_EVERY_S = 3600.0


class EventDeduper:
    """Claims event ids in the database; prunes old ids at most once an hour per process."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._last_prune = 0.0
        self._lock = threading.Lock()

    def claim(self, event_id: str, kind: str = "") -> bool:
        """True when this call is the first to see ``event_id`` (in any process)."""
        try:
            with self.db.session() as session:
                session.add(ProcessedEvent(event_id=event_id[:64], kind=kind[:64], received_at=utcnow()))
        except IntegrityError:
            log.info(kv("duplicate_event_ignored", event_id=event_id, kind=kind))
            return False
        self._maybe_prune()
        return True

    def _maybe_prune(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last_prune < _PRUNE_EVERY_S:
                return
            self._last_prune = now
        try:
            with self.db.session() as session:
                session.execute(delete(ProcessedEvent).where(ProcessedEvent.received_at < utcnow() - KEEP))
        except Exception:  # noqa: BLE001 - pruning is housekeeping; answering must go on
            log.warning(kv("dedupe_prune_failed"))
