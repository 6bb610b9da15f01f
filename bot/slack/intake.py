"""Questions are stored before Slack gets its ack: a Bolt middleware in front of every listener.

Bolt acknowledges Events API requests before any listener runs, so a listener cannot store the
question "before the ack".  A global middleware can: it runs in the request thread (HTTP and
Socket Mode alike), after Bolt verified the request and dropped our own messages, and its commit
(one small insert pair, a few milliseconds) completes before the response is written.  Then:

- the event id was new: the question is stored and leased to us, the listener answers it;
- the event id was already claimed (a Slack retry, a duplicate delivery, a retry after our crash
  *after* the commit): acknowledged and dropped here — the stored question is answered by whoever
  holds it, or by recovery;
- the database refused the write: the listener apologizes in the thread (nothing was stored, so
  nothing would ever answer it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.language import detect_language
from bot.slack.answering import AnswerService
from bot.slack.logs import kv
from bot.slack.payload import is_user_dm, strip_mentions
from bot.slack.questions import INTAKE_FAILED, QUESTION_ID, QuestionIn

log = logging.getLogger("bot.slack.intake")


def question_from_event(event: dict[str, Any], *, bot_user_id: str | None, desk_channel: str | None) -> QuestionIn | None:
    """The question in a DM or mention, or ``None`` for events that are not one.

    Mentions in ``desk_channel`` (given only when the precedents feature offers staff tools
    there) stay with their own listener.
    """
    if is_user_dm(event):
        text = (event.get("text") or "").strip()
        ts = event["ts"]
        in_thread = bool(event.get("thread_ts"))  # Slack's Assistant container always uses threads
        return QuestionIn(surface="assistant" if in_thread else "dm", channel=event["channel"],
                          thread_ts=event.get("thread_ts") or ts, ts=ts, user=event["user"], text=text,
                          language=detect_language(text) if text else "ja")
    if (event.get("type") == "app_mention" and not event.get("bot_id") and not event.get("subtype")
            and event.get("user") and event.get("channel") and event.get("ts")):
        if desk_channel and event["channel"] == desk_channel:
            return None
        text = strip_mentions(event.get("text") or "", bot_user_id)
        return QuestionIn(surface="mention", channel=event["channel"], thread_ts=event.get("thread_ts") or event["ts"],
                          ts=event["ts"], user=event["user"], text=text,
                          language=detect_language(text) if text else "ja")
    return None


def register(app: App, answers: AnswerService) -> None:
    """Install the middleware that stores questions (and claims their event ids) before the ack."""
    services = answers.ctx
    db = services.db

    def store_questions_before_ack(body: dict, context: BoltContext, next: Callable[[], None]) -> BoltResponse | None:  # noqa: A002
        if body.get("type") != "event_callback":
            return next()
        event = body.get("event") or {}
        desk_channel = services.settings.desk_channel_id if services.desk_mention is not None else None
        q = question_from_event(event, bot_user_id=context.bot_user_id, desk_channel=desk_channel)
        if q is None:
            return next()
        event_id = str(body.get("event_id") or "") or None
        try:
            db.require_storage()
            question_id = answers.receive(q, event_id=event_id, kind=str(event.get("type") or ""))
        except SQLAlchemyError as exc:
            log.error(kv("storage_failed", step="store_question", event_id=event_id, error=type(exc).__name__))
            context[INTAKE_FAILED] = True
            return next()
        if question_id is None:
            log.info(kv("duplicate_event_ignored", event_id=event_id, kind=event.get("type")))
            return BoltResponse(status=200, body="")
        context[QUESTION_ID] = question_id
        return next()

    app.middleware(store_questions_before_ack)
