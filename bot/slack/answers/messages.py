"""Questions in: DMs, mentions, the Assistant container and ``/ppp``.

Every listener acknowledges first and works afterwards (Bolt's lazy listeners), so Slack always
sees the ack well inside 3 seconds however slow an answer is.  The question itself was stored
before the ack (``bot.slack.intake``); a listener only hands it to the durable answer path
(``bot.slack.answering``), or apologizes when it could not be stored.  This path only ever calls
the public engine; internal data is never put into anything posted to a business.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.language import detect_language
from bot.slack import blocks as bk
from bot.slack.logs import kv
from bot.slack.payload import is_user_dm, strip_mentions
from bot.slack.questions import INTAKE_FAILED, QUESTION_ID, QuestionIn
from bot.slack.services import Services
from bot.slack.texts import t
from bot.slack.web import call_api, tell_user

log = logging.getLogger("bot.slack.listeners")

_DRAFT_WORDS = frozenset({"draft", "下書き", "したがき"})
_HELP_WORDS = frozenset({"", "help", "ヘルプ", "使い方", "?", "？"})


def _noop_ack(ack: Ack) -> None:
    ack()


def apologize_not_stored(ctx: Services, client: WebClient, *, channel: str, thread_ts: str, question: str,
                         event_id: str | None) -> None:
    """The database refused the question: tell the asker once (the event was acked, Slack will not resend).

    Nothing was stored, so this apology cannot go through the outbox; it is the one direct post.
    """
    lang = detect_language(question)
    call_api(client, "chat.postMessage", event_id=event_id, channel=channel, thread_ts=thread_ts,
             text=t(lang, "storage_error", contact=ctx.city.desk.contact_line(lang)))


def claim_or_apologize(ctx: Services, client: WebClient, body: dict[str, Any], *, channel: str,
                       thread_ts: str, question: str) -> bool:
    """``ctx.claim_event`` that turns a failed database write into an apology in the thread."""
    try:
        return ctx.claim_event(body)
    except SQLAlchemyError as exc:
        log.error(kv("storage_failed", step="claim_event", event_id=body.get("event_id"), error=type(exc).__name__))
        apologize_not_stored(ctx, client, channel=channel, thread_ts=thread_ts, question=question,
                             event_id=body.get("event_id"))
        return False


def _hand_over(ctx: Services, context: BoltContext, client: WebClient, body: dict[str, Any], *,
               channel: str, thread_ts: str, question: str) -> None:
    """Answer the question the intake middleware stored, or apologize if it could not store it."""
    question_id = context.get(QUESTION_ID)
    if question_id is not None:
        ctx.answers.process(question_id)
    elif context.get(INTAKE_FAILED):
        apologize_not_stored(ctx, client, channel=channel, thread_ts=thread_ts, question=question,
                             event_id=body.get("event_id"))


def open_draft(ctx: Services, body: dict[str, Any], client: WebClient, lang: str) -> None:
    """Hand the draft request to the records feature (or say it is coming) — right after the ack."""
    if ctx.open_draft is None:
        tell_user(client, body, t(lang, "draft_soon"))
        return
    try:
        ctx.open_draft(client, body)
    except Exception as exc:  # noqa: BLE001 - another feature's failure must not go unanswered
        log.exception(kv("open_draft_failed", error=type(exc).__name__))
        tell_user(client, body, t(lang, "draft_failed"))


def register(app: App, ctx: Services) -> None:
    """DMs, mentions, the Assistant container and ``/ppp``: questions in, answers out."""
    settings = ctx.settings

    # --- direct messages and the Assistant container ------------------------------------------
    def answer_dm(body: dict, event: dict, client: WebClient, context: BoltContext) -> None:
        if not is_user_dm(event):
            return  # edits, deletions, other bots, system messages
        _hand_over(ctx, context, client, body, channel=event["channel"], thread_ts=event.get("thread_ts") or event["ts"],
                   question=(event.get("text") or "").strip())

    # Events are acked by Bolt before a listener runs; the question was stored before that ack.
    app.event("message")(answer_dm)

    # --- mentions in channels -------------------------------------------------------------------
    def answer_mention(body: dict, event: dict, client: WebClient, context: BoltContext, say: Any) -> None:
        if event.get("bot_id") or event.get("subtype") or not event.get("user"):
            return
        user, channel = event["user"], event["channel"]
        thread_ts = event.get("thread_ts") or event["ts"]
        text = event.get("text") or ""
        if context.get(QUESTION_ID) is not None or context.get(INTAKE_FAILED):
            _hand_over(ctx, context, client, body, channel=channel, thread_ts=thread_ts, question=text)
            return
        if not settings.desk_channel_id or channel != settings.desk_channel_id:
            return  # not a question the intake could read (it stores every other mention)
        # The desk channel: staff tools first (the intake left these mentions to us).
        if not claim_or_apologize(ctx, client, body, channel=channel, thread_ts=thread_ts, question=text):
            return
        if ctx.staff.is_staff(user, client):
            if ctx.desk_mention is not None:
                ctx.desk_mention(event, client, say)
            return
        question = strip_mentions(text, context.bot_user_id)
        try:  # someone else in the desk channel asked a question: answer it like any other
            question_id = ctx.answers.receive(QuestionIn(
                surface="mention", channel=channel, thread_ts=thread_ts, ts=event["ts"], user=user, text=question,
                language=detect_language(question) if question else "ja"))
        except SQLAlchemyError as exc:
            log.error(kv("storage_failed", step="store_question", error=type(exc).__name__))
            apologize_not_stored(ctx, client, channel=channel, thread_ts=thread_ts, question=question,
                                 event_id=body.get("event_id"))
            return
        if question_id is not None:
            ctx.answers.process(question_id)

    app.event("app_mention")(answer_mention)

    def start_assistant_thread(body: dict, event: dict, client: WebClient) -> None:
        thread = event.get("assistant_thread") or {}
        channel, thread_ts = thread.get("channel_id"), thread.get("thread_ts")
        if not channel or not thread_ts or not ctx.claim_event(body):
            return
        lang = "ja"
        prompts = [{"title": p, "message": p} for p in ctx.city.suggested_prompts[:4]]
        call_api(client, "chat.postMessage", event_id=body.get("event_id"), channel=channel,
                 thread_ts=thread_ts, text=t(lang, "greeting"))
        if prompts:
            call_api(client, "assistant.threads.setSuggestedPrompts", event_id=body.get("event_id"),
                     channel_id=channel, thread_ts=thread_ts, title=t(lang, "prompts_title"), prompts=prompts)
        log.info(kv("assistant_thread_started", event_id=body.get("event_id"), prompts=len(prompts)))

    app.event("assistant_thread_started")(ack=_noop_ack, lazy=[start_assistant_thread])

    # --- /ppp -------------------------------------------------------------------------------------
    def answer_ppp(ack: Ack, body: dict, client: WebClient) -> None:
        """Store the question, then ack, then answer (a command's ack waits for this function)."""
        text = (body.get("text") or "").strip()
        lang = detect_language(text)
        if text.lower() in _DRAFT_WORDS:
            ack()
            open_draft(ctx, body, client, lang)
            return
        if text.lower() in _HELP_WORDS:
            ack()
            tell_user(client, body, t(lang, "help"), bk.help_blocks(ctx.city.suggested_prompts, lang))
            return
        try:
            ctx.db.require_storage()
            question_id = ctx.answers.receive(QuestionIn(
                surface="slash", channel=body.get("channel_id") or "", thread_ts="", ts="",
                user=body.get("user_id") or "", text=text, language=lang, response_url=body.get("response_url")))
        except SQLAlchemyError as exc:
            ack()
            log.error(kv("storage_failed", step="store_question", error=type(exc).__name__))
            tell_user(client, body, t(lang, "storage_error", contact=ctx.city.desk.contact_line(lang)))
            return
        ack()
        if question_id is not None:
            ctx.answers.process(question_id)

    app.command("/ppp")(answer_ppp)
