"""The durable answer path: every stored question ends in exactly one reply, across crashes and outages.

1. ``bot.slack.intake`` stores the question before the ack (with the event claim).
2. :meth:`AnswerService.process` leases it, asks the engine, and in **one transaction** marks it
   answered, records the conversation turn and queues the reply in the outbox.
3. The reply is delivered at once from the same thread; if Slack refuses (429, 5xx, down) the
   outbox worker keeps trying with backoff and ``Retry-After`` until Slack takes it.
4. A sweeper, at start-up and every few seconds, picks up questions whose process died (or whose
   engine call failed) and answers them; one that failed :data:`MAX_ATTEMPTS` times gets an apology.

No double answers: the event claim stops Slack's retries, the lease (a compare-and-set on the
owner) stops two processes, settling is conditional on the lease, the outbox row has a unique key
per question, and a resumed delivery looks for its own earlier post (``bot.slack.delivery``).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.background import Loop
from bot.db import utcnow
from bot.engine.answer import Answer
from bot.records.outbox import OutboxWorker, enqueue
from bot.slack import blocks as bk
from bot.slack import delivery, questions
from bot.slack.history import add_turn, context_turns, new_ref
from bot.slack.logs import LoggedRateLimitRetry, kv
from bot.slack.questions import Question, QuestionIn
from bot.slack.services import Services
from bot.slack.texts import t

log = logging.getLogger("bot.slack.answering")

# Leases per question before it gets an apology instead of another try (engine errors and crashes
# both count: a question that kills its process must not kill every restart).
MAX_ATTEMPTS = 3
RETRY_AFTER_ENGINE_ERROR_S = 2.0
SWEEP_S = 5.0
_PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True)
class Reply:
    """What one question gets: the outbox row to queue and, for answers, the turn to record."""

    kind: str
    payload: dict[str, Any]
    status: str  # answered | apologized
    answer: Answer | None = None
    ref: str | None = None
    language: str = "ja"


class AnswerService:
    """Answers stored questions and owns the answers' outbox worker and the recovery sweeper."""

    def __init__(self, ctx: Services, executor: Executor, *, sweep_s: float = SWEEP_S,
                 **outbox_options: Any) -> None:
        self.ctx = ctx
        self.executor = executor  # where recovered questions run (the app's tracked listener pool)
        self.sweep_s = sweep_s
        client = ctx.client
        assert client is not None, "the answer path needs a Web API client"
        self.client = client
        # Status updates are cosmetic: one quick try, never the client's retries (which would hold
        # the answer back by up to half a minute while Slack is failing).
        self.status_client = WebClient(token=client.token, base_url=client.base_url, timeout=5, retry_handlers=[])
        # Replies retry only 429s in the client (Slack did not post them).  A 5xx or a broken
        # connection may come after Slack posted, so those go back to the outbox, whose next
        # attempt first looks for the earlier post instead of posting blind.
        self.delivery_client = WebClient(token=client.token, base_url=client.base_url, timeout=15,
                                         retry_handlers=[LoggedRateLimitRetry(max_retry_count=3)])
        options = {"poll_s": 5.0, "base_delay_s": 1.0, "max_delay_s": 30.0, **outbox_options}
        self.worker = OutboxWorker(ctx.db, {
            delivery.KIND_POST: lambda job: delivery.deliver_post(self.delivery_client, ctx.db, job),
            delivery.KIND_EPHEMERAL: lambda job: delivery.deliver_ephemeral(self.delivery_client, job),
        }, **options)
        self._inflight: set[int] = set()
        self._lock = threading.Lock()
        self._recovery = Loop(self._sweep_pass, "answers-recovery")
        self._last_prune = 0.0

    # --- intake ---------------------------------------------------------------------------------

    def receive(self, q: QuestionIn, *, event_id: str | None = None, kind: str = "") -> int | None:
        """Store a question (and claim its event) before the ack; ``None`` for a Slack retry."""
        return questions.receive(self.ctx.db, q, event_id=event_id, kind=kind)

    # --- answering ------------------------------------------------------------------------------

    def process(self, question_id: int, *, steal_from: str | None = None) -> None:
        """Answer one stored question, unless someone else holds it or it is settled."""
        with self._lock:
            if question_id in self._inflight:
                return
            self._inflight.add(question_id)
        try:
            self._process(question_id, steal_from)
        finally:
            with self._lock:
                self._inflight.discard(question_id)

    def _process(self, question_id: int, steal_from: str | None) -> None:
        started = time.perf_counter()
        q = questions.lease(self.ctx.db, question_id, steal_from=steal_from)
        if q is None:
            return
        if q.attempts > 1:
            log.info(kv("question_recovered", question=q.id, event_id=q.event_id, attempt=q.attempts))
        if q.attempts > MAX_ATTEMPTS:
            self._settle(q, self._apology(q), started)
            return
        if q.surface == "assistant":
            self._set_status(q, t(q.language, "status_working"))
        if not q.text:
            self._settle(q, self._help(q), started)
            return
        history = context_turns(self.ctx.db, q.channel, q.thread_ts) if q.surface != "slash" else []
        try:
            answer = self.ctx.ask(q.text, history)
        except Exception as exc:  # noqa: BLE001 - retried, then the asker gets an apology instead of silence
            log.exception(kv("engine_failed", question=q.id, event_id=q.event_id, attempt=q.attempts,
                             error=type(exc).__name__))
            if q.attempts >= MAX_ATTEMPTS:
                self._settle(q, self._apology(q), started)
            else:
                questions.release(self.ctx.db, q.id, retry_in_s=RETRY_AFTER_ENGINE_ERROR_S * q.attempts,
                                  error=type(exc).__name__)
                self.kick()
            return
        self._settle(q, self._answer(q, answer), started, context=len(history))

    # --- replies --------------------------------------------------------------------------------

    def _payload(self, q: Question, text: str, blocks: list[dict] | None, ref: str | None) -> tuple[str, dict]:
        if q.surface == "slash":
            return delivery.KIND_EPHEMERAL, {"question": q.id, "response_url": q.response_url, "channel": q.channel,
                                             "user": q.user, "text": text, "blocks": blocks,
                                             "queued_at": utcnow().isoformat()}
        args: dict[str, Any] = {"channel": q.channel, "thread_ts": q.thread_ts, "text": text}
        if blocks:
            args.update(blocks=blocks, unfurl_links=False, unfurl_media=False)
        return delivery.KIND_POST, {"question": q.id, "ref": ref, "oldest": q.ts, "surface": q.surface, "args": args}

    def _answer(self, q: Question, answer: Answer) -> Reply:
        lang = bk.answer_language(answer)
        ref = new_ref()
        thread = "" if q.surface == "slash" else q.thread_ts
        blocks = bk.answer_blocks(answer, turn_ref=ref, channel=q.channel, thread_ts=thread, city=self.ctx.city,
                                  lang=lang)
        kind, payload = self._payload(q, bk.fallback_text(answer, lang), blocks, ref)
        return Reply(kind, payload, "answered", answer=answer, ref=ref, language=lang)

    def _help(self, q: Question) -> Reply:
        kind, payload = self._payload(q, t(q.language, "help"),
                                      bk.help_blocks(self.ctx.city.suggested_prompts, q.language), None)
        return Reply(kind, payload, "answered", language=q.language)

    def _apology(self, q: Question) -> Reply:
        text = t(q.language, "engine_error", contact=self.ctx.city.desk.contact_line(q.language))
        kind, payload = self._payload(q, text, None, None)
        return Reply(kind, payload, "apologized", language=q.language)

    def _settle(self, q: Question, reply: Reply, started: float, *, context: int = 0) -> None:
        """One transaction: question settled, turn recorded, reply queued; then deliver it now."""
        key = f"answer:{q.id}"
        try:
            with self.ctx.db.session() as s:
                if not questions.settle(s, q.id, reply.status):
                    log.info(kv("question_taken_over", question=q.id))
                    return
                if reply.answer is not None and reply.ref is not None:
                    add_turn(s, ref=reply.ref, channel=q.channel, thread_ts="" if q.surface == "slash" else q.thread_ts,
                             user=q.user, ts=q.ts, surface=q.surface, answer=reply.answer, language=reply.language)
                enqueue(s, reply.kind, None, reply.payload, dedupe_key=key)
        except SQLAlchemyError as exc:  # still pending and leased: recovered once the database is back
            log.error(kv("storage_failed", step="settle_question", question=q.id, error=type(exc).__name__))
            return
        delivered = self.worker.deliver_now(key)
        if not delivered:
            self.worker.kick()
            if q.surface == "assistant":  # do not leave "checking the documents…" spinning meanwhile
                self._set_status(q, "")
        a = reply.answer
        log.info(kv("answer_posted" if delivered else "answer_queued", surface=q.surface, question=q.id,
                    event_id=q.event_id, outcome=reply.status, category=a.category if a else None,
                    abstained=a.abstained if a else None, sources=len(a.sources) if a else None,
                    context_turns=context, lang=reply.language,
                    engine_ms=round(a.latency_ms, 1) if a else None,
                    total_ms=round((time.perf_counter() - started) * 1000, 1)))
        if a is not None and self.ctx.questions is not None:  # logged (masked) after the asker has the reply
            self.ctx.questions.question_answered(q, a, reply.ref, reply.language)

    def _set_status(self, q: Question, status: str) -> None:
        try:
            self.status_client.assistant_threads_setStatus(channel_id=q.channel, thread_ts=q.thread_ts, status=status)
        except Exception as exc:  # noqa: BLE001 - cosmetic; the answer does not wait for it
            log.info(kv("assistant_status_failed", question=q.id, error=type(exc).__name__))

    # --- recovery -------------------------------------------------------------------------------

    def sweep_once(self) -> int:
        """Hand every question nobody alive is answering to the pool; returns how many."""
        handed = 0
        for found in questions.recoverable(self.ctx.db):
            with self._lock:
                if found.id in self._inflight:
                    continue
            try:
                self.executor.submit(self.process, found.id, steal_from=found.steal_from)
            except RuntimeError:  # the pool is shutting down: the next start recovers it
                break
            handed += 1
        if handed:
            log.info(kv("questions_recovering", count=handed))
        return handed

    def kick(self) -> None:
        """Sweep now instead of after ``sweep_s`` (a question was released for another try)."""
        self._recovery.kick()

    def _sweep_pass(self) -> float:
        try:
            if self.ctx.db.storage_present():
                self.sweep_once()
                self._maybe_prune()
        except Exception as exc:  # noqa: BLE001 - a database hiccup must not end recovery
            log.warning(kv("question_sweep_failed", error=type(exc).__name__))
        return self.sweep_s

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now - self._last_prune >= _PRUNE_EVERY_S:
            self._last_prune = now
            questions.prune(self.ctx.db)

    def start(self) -> AnswerService:
        """Deliver what a previous run left in the outbox and answer what it left unanswered."""
        self.worker.start("answers-outbox")
        self._recovery.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._recovery.stop(timeout)
        self.worker.stop(timeout)
