"""The answer path's events into the question log, and the log's retention.

The answer path calls ``question_answered`` (after the asker has the reply), the answer buttons
``answer_feedback`` and ``handed_off`` (``services.questions``); each becomes one masked row or one update of it, keyed by the
turn reference the answer's buttons carry.  A logging failure is logged and never reaches the asker.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from bot.knowledge_loop.log import QuestionLog, outcome_of
from bot.knowledge_loop.mask import mask_personal

log = logging.getLogger("bot.knowledge_loop.slack")


def question_vector(ctx: Any, text: str) -> Any:
    """The e5 query vector of ``text`` from the answering engine (its cache when it just embedded it).

    Run on the engine's thread like the answer itself; ``None`` when the engine cannot embed.
    """
    embed = getattr(ctx.engine, "_embed", None)
    if embed is None:
        return None
    pool = getattr(ctx, "answer_pool", None)
    try:
        future = pool.submit(embed, [text]) if pool is not None else None
        return (future.result(timeout=30) if future is not None else embed([text]))[0]
    except Exception as exc:  # noqa: BLE001 - the row is still useful without a vector (its own gap)
        log.warning("knowledge_loop: question not embedded (%s)", type(exc).__name__)
        return None


class LogHooks:
    """Subscribers that write the question log (one per app)."""

    def __init__(self, ctx: Any, qlog: QuestionLog) -> None:
        self.ctx = ctx
        self.qlog = qlog

    def question_answered(self, question: Any, answer: Any, ref: str | None, language: str) -> None:
        text = getattr(question, "text", "") or ""
        if not text or not ref:
            return
        masked = mask_personal(text)
        with self._quietly("record"):
            self.qlog.record(masked, outcome=outcome_of(answer), category=answer.category or "",
                             language=language or "ja", surface=getattr(question, "surface", "") or "",
                             turn_ref=ref, vector=question_vector(self.ctx, masked))
            log.info("knowledge_loop: question logged (%s)", outcome_of(answer))

    def answer_feedback(self, turn_ref: str, rating: int) -> None:
        with self._quietly("feedback"):
            self.qlog.feedback(turn_ref, rating)

    def handed_off(self, turn_ref: str) -> None:
        with self._quietly("handoff"):
            self.qlog.handed_off(turn_ref)

    @contextlib.contextmanager
    def _quietly(self, step: str) -> Iterator[None]:
        """A failed log write is one line; the asker's reply or acknowledgement is never affected."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - observers never raise into the answer path
            log.warning("knowledge_loop: question log %s failed (%s)", step, type(exc).__name__)
