"""What the records feature runs on: its service, its outbox worker and where it delivers.

One :class:`RecordsRuntime` per Slack app, made by ``bot.records.slack.make_runtime`` and kept on the
application object (``services.records``), so tests and the App Home reach the same worker the
listeners use.  A process without the Slack app (a CLI drain) can make one too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk import WebClient

from bot.city import CityProfile
from bot.config import Settings
from bot.db import Database
from bot.records.outbox import OutboxWorker
from bot.records.service import RecordListener, RecordService

log = logging.getLogger("bot.records.slack")


class SimilarPrecedents(Protocol):
    """What the desk card asks for "similar precedents" (``bot.precedents.space.PrecedentSpace``)."""

    def similar(self, text: str, k: int = 3, exclude_record_id: str | None = None) -> list[dict[str, Any]]: ...


class InBackground:
    """A record listener run on one background thread: in order, and never on an ack's time.

    Indexing a record embeds it (tens of milliseconds or more); the Slack listener that saved the
    record must answer Slack within three seconds regardless.
    """

    def __init__(self, listener: RecordListener) -> None:
        self.listener = listener
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="records-events")

    def _run(self, fn: Callable[[Any], None], arg: Any) -> None:
        try:
            fn(arg)
        except Exception:  # noqa: BLE001 - the record is saved; only the index lags behind
            log.exception("records: listener failed")

    def record_saved(self, record: dict[str, Any]) -> None:
        self.pool.submit(self._run, self.listener.record_saved, record)

    def record_deleted(self, record_id: str) -> None:
        self.pool.submit(self._run, self.listener.record_deleted, record_id)


@dataclass
class RecordsRuntime:
    """The records feature of one app: service, outbox worker, and what delivery needs."""

    settings: Settings
    db: Database
    city: CityProfile
    client: WebClient
    service: RecordService
    worker: OutboxWorker
    is_staff: Callable[..., bool] | None = None
    precedents: SimilarPrecedents | None = None
    # (user, client) → more App Home blocks from other features (the knowledge loop's staff sections).
    home_sections: Callable[[str, WebClient | None], list[dict]] | None = None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop delivering (what is queued stays queued for the next start)."""
        self.worker.stop(timeout=timeout)
