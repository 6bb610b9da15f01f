"""The application object: what every Slack feature receives at registration.

``build_app`` makes one :class:`Services` at start-up — settings, database, answer engine, city
profile, staff directory, Web API client, the staff-only precedent space — and hands it to every
feature package's ``register(app, services)``.  Features keep what they make on it (``answers``,
``records``) and offer their entry points to other features through it (``open_draft``,
``desk_mention``), so no feature imports another and nothing lives in module-level registries.
Features share state across worker processes only through the database.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from slack_sdk import WebClient

from bot.city import CityProfile
from bot.config import Settings
from bot.db import Database
from bot.engine import Turn
from bot.engine.answer import Answer
from bot.slack.dedupe import EventDeduper
from bot.slack.staff import StaffDirectory

if TYPE_CHECKING:
    from bot.records.slack.runtime import RecordsRuntime
    from bot.slack.answering import AnswerService

# Answers are CPU-bound and the embedding model serializes its calls anyway.  Measured on the
# bundled model: the same query takes 2-3x longer on a thread the engine has not run on before
# (native per-thread state), and Bolt's pool has 32 threads.  So every answer runs on one
# long-lived engine thread, one at a time; Bolt's threads stay free for acks and Web API calls.
ANSWER_THREADS = 1

# (client, body) → None: open the draft modal for a button press or ``/ppp draft``.
OpenDraft = Callable[[WebClient, dict], None]
# (event, client, say) → handled: a staff mention in the desk channel.
DeskMention = Callable[[dict, WebClient, Callable[..., Any]], bool]
# (user, client) → extra App Home blocks for that user (the caller has not decided who is staff).
HomeSections = Callable[[str, WebClient | None], list[dict]]
# (client, user) → None: re-render a user's App Home after a change.
RefreshHome = Callable[[WebClient, str], None]
# (hand-off id) → buttons other features put on the desk-channel post of a hand-off.
HandoffActions = Callable[[int], list[dict]]


class QuestionObserver(Protocol):
    """Told what happened to each business question (the knowledge loop's question log).

    Called after the asker has the reply or the acknowledgement; an observer never raises into
    the answer path.
    """

    def question_answered(self, question: Any, answer: Answer, ref: str | None, language: str) -> None: ...

    def answer_feedback(self, turn_ref: str, rating: int) -> None: ...

    def handed_off(self, turn_ref: str) -> None: ...


class Background(Protocol):
    def stop(self, timeout: float = 5.0) -> None: ...


@dataclass
class Services:
    """Shared services of the Slack app (one per process)."""

    settings: Settings
    db: Database
    engine: Any  # bot.engine.Engine or anything with .answer(question, history=[Turn]) -> Answer
    city: CityProfile
    staff: StaffDirectory
    client: WebClient | None = None
    deduper: EventDeduper | None = None
    # bot.precedents.space.PrecedentSpace, staff only and opened on first use.  Not imported here:
    # this module is on the business path, which never names the internal space (tests/test_precedents_wall.py).
    precedents: Any = None
    answers: AnswerService | None = None  # the durable answer path (set by the answers feature)
    records: RecordsRuntime | None = None  # set by the records feature
    open_draft: OpenDraft | None = None  # offered by the records feature
    desk_mention: DeskMention | None = None  # offered by the precedents feature
    questions: QuestionObserver | None = None  # offered by the knowledge loop
    home_sections: HomeSections | None = None  # offered by the knowledge loop
    handoff_actions: HandoffActions | None = None  # offered by the knowledge loop (「回答として公開」)
    refresh_home: RefreshHome | None = None  # offered by the records feature (it renders App Home)
    knowledge_loop: Background | None = None  # the knowledge loop's threads (set by that feature)
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

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the background workers (answers' outbox and recovery, records' outbox, the loop's)."""
        for part in (self.answers, self.records, self.knowledge_loop):
            if part is not None:
                part.stop(timeout)
