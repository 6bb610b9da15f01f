"""What every Slack feature receives at registration: settings, database, engine, city, staff.

``build_app`` creates one :class:`SlackContext` per app and hands it to each feature module's
``register(app, ctx)``.  Features share state only through what is here (the database above all),
which is what lets several worker processes serve one Slack app.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient

from bot.answer import Answer
from bot.city import CityProfile
from bot.db import Database
from bot.engine import Turn
from bot.slack.staff import StaffDirectory
from ingest.config import Settings

# Answers are CPU-bound (embedding + ranking) and hold the GIL most of the time: running more at
# once than there are cores only slows each one down, while Bolt's threads stay free for acks.
DEFAULT_ANSWER_SLOTS = 2


@dataclass
class SlackContext:
    """Shared services of the Slack app (one per process)."""

    settings: Settings
    db: Database
    engine: Any  # bot.engine.Engine or anything with .answer(question, history=[Turn]) -> Answer
    city: CityProfile
    staff: StaffDirectory
    client: WebClient | None = None
    answer_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(DEFAULT_ANSWER_SLOTS))

    def ask(self, question: str, history: list[Turn] | None = None) -> Answer:
        """The public engine's answer; the only way the business-facing path gets an answer."""
        with self.answer_slots:
            return self.engine.answer(question, history=history or [])
