"""The weekly digest in the desk channel, and the background thread that also enforces retention.

``DIGEST_SCHEDULE="mon 09:00"`` (JST) posts the figures of the seven days before each scheduled
time.  Several worker processes each run this thread; the post is queued in the shared outbox under
one key per period (a unique column), so exactly one of them posts it, once, and the outbox retries
it until Slack takes it.  A process that was down at the scheduled time still posts it within
:data:`GRACE` afterwards; later than that the period is skipped rather than posted days late.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.background import Loop
from bot.db import JST, utcnow
from bot.knowledge_loop import documents
from bot.knowledge_loop.log import QuestionLog
from bot.knowledge_loop.report import figures, to_text
from bot.knowledge_loop.slack import common
from bot.knowledge_loop.slack.texts import s
from bot.records.models import OutboxMessage
from bot.records.outbox import OutboxWorker
from bot.slack import kit

log = logging.getLogger("bot.knowledge_loop.slack")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
GRACE = timedelta(hours=12)
PURGE_EVERY = timedelta(days=1)
_SCHEDULE = re.compile(r"^\s*([a-z]{3})[a-z]*\s+(\d{1,2}):(\d{2})\s*$", re.I)


def parse_schedule(text: str | None) -> tuple[int, int, int] | None:
    """``"mon 09:00"`` → (weekday, hour, minute); ``None`` for empty (off) or unreadable (logged)."""
    if not text or not text.strip():
        return None
    m = _SCHEDULE.match(text)
    if not m or m.group(1).lower() not in DAYS or int(m.group(2)) > 23 or int(m.group(3)) > 59:
        log.warning("knowledge_loop: DIGEST_SCHEDULE %r not understood (e.g. 'mon 09:00'); no digest", text)
        return None
    return DAYS.index(m.group(1).lower()), int(m.group(2)), int(m.group(3))


def last_scheduled(schedule: tuple[int, int, int], now: datetime) -> datetime:
    """The latest scheduled time at or before ``now`` (aware, JST)."""
    weekday, hour, minute = schedule
    local = now.astimezone(JST)
    at = (local - timedelta(days=(local.weekday() - weekday) % 7)).replace(hour=hour, minute=minute, second=0,
                                                                           microsecond=0)
    return at - timedelta(days=7) if at > local else at


def digest_blocks(text: str) -> list[dict[str, Any]]:
    """The digest as blocks: ``text`` (``report.to_text``) already opens with its period in Japan time."""
    return [kit.header(s("digest_title")), kit.context(s("digest_note")), kit.preformatted(text)]


class Maintenance:
    """One per app: purges the question log daily and posts the digest when a period is due."""

    def __init__(self, ctx: Any, qlog: QuestionLog, worker: OutboxWorker, *, interval_s: float = 60.0) -> None:
        self.db, self.settings, self.qlog, self.worker = ctx.db, ctx.settings, qlog, worker
        self.schedule = parse_schedule(self.settings.digest_schedule)
        self.interval_s = interval_s
        self._last_purge: datetime | None = None
        self._loop = Loop(self._pass, "knowledge-loop")

    def purge(self, now: datetime | None = None) -> int:
        now = now or utcnow()
        self._last_purge = now
        removed = self.qlog.purge(now)
        if removed:
            log.info("knowledge_loop: %s logged questions past retention deleted", removed)
        swept = documents.sweep_previews(self.settings, self.db, now.timestamp())
        if swept:
            log.info("knowledge_loop: %s downloaded files never added deleted", len(swept))
        return removed

    def post_due(self, now: datetime | None = None) -> bool:
        """Queue the digest of the period due at ``now``, unless another process already did."""
        desk = self.settings.desk_channel_id
        if self.schedule is None or not desk:
            return False
        now = now or utcnow()
        until = last_scheduled(self.schedule, now)
        if now - until > GRACE:
            return False
        key = f"loop-digest:{until.isoformat()}"
        with self.db.session() as session:
            if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)) is not None:
                return False
        since = until - timedelta(days=7)
        text = to_text(figures(self.db, since, until))
        args = {"channel": desk, "text": f"{s('digest_title')}\n{text}", "blocks": digest_blocks(text),
                "unfurl_links": False}
        queued = common.queue_notice(self.db, self.worker, key, args)
        if queued:
            log.info("knowledge_loop: weekly digest queued (%s)", until.date().isoformat())
        return queued

    def run_once(self, now: datetime | None = None) -> None:
        now = now or utcnow()
        try:
            if self._last_purge is None or now - self._last_purge >= PURGE_EVERY:
                self.purge(now)
            self.post_due(now)
        except Exception as exc:  # noqa: BLE001 - a database hiccup must not end the thread
            log.warning("knowledge_loop: maintenance pass failed (%s)", type(exc).__name__)

    def _pass(self) -> float:
        self.run_once()
        return self.interval_s

    def start(self) -> Maintenance:
        self._loop.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._loop.stop(timeout)
