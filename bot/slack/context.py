"""What every Slack feature receives at registration: settings, database, engine, city, staff.

``build_app`` creates one :class:`SlackContext` per app and hands it to each feature module's
``register(app, ctx)``.  Features share state only through what is here (the database above all),
which is what lets several worker processes serve one Slack app.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient

from bot.city import CityProfile
from bot.config import Settings
from bot.db import Database
from bot.engine import Turn
from bot.engine.answer import Answer
from bot.slack.dedupe import EventDeduper
from bot.slack.staff import StaffDirectory

# Answers are CPU-bound and the embedding model serializes its calls anyway.  Measured on the
# bundled model: the same query takes 2-3x longer on a thread the engine has not run on before
# (native per-thread state), and Bolt's pool has 32 threads.  So every answer runs on one
# long-lived engine thread, one at a time; Bolt's threads stay free for acks and Web API calls.
ANSWER_THREADS = 1


@dataclass
class SlackContext:
    """Shared services of the Slack app (one per process)."""

    settings: Settings
    db: Database
    engine: Any  # bot.engine.Engine or anything with .answer(question, history=[Turn]) -> Answer
    city: CityProfile
    staff: StaffDirectory
    client: WebClient | None = None
    deduper: EventDeduper | None = None
    answers: Any = None  # bot.slack.answering.AnswerService: the durable answer path (set by build_app)
    answer_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=ANSWER_THREADS, thread_name_prefix="ppp-engine"))

    def claim_event(self, body: dict) -> bool:
        """True for the first delivery of an Events API ``event_id`` in any worker, else False.

        Call it in the lazy part of an event listener, after deciding the event is worth acting on:
        the ack then never waits for the database, and ignored events cost no write.  Requests
        without an event id (commands, interactivity) are always processed.
        """
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if not event_id or self.deduper is None:
            return True
        return self.deduper.claim(str(event_id), str((body.get("event") or {}).get("type", "")))

    def ask(self, question: str, history: list[Turn] | None = None) -> Answer:
        """The public engine's answer; the only way the business-facing path gets an answer."""
        return self.answer_pool.submit(self.engine.answer, question, history=history or []).result()
