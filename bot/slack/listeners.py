"""Bolt listeners of the business-facing surface: DMs, mentions, the Assistant container, ``/ppp``,
and the answer buttons.

Every listener acknowledges first and works afterwards (Bolt's lazy listeners), so Slack always
sees the ack well inside 3 seconds however slow an answer is.  Views that need a ``trigger_id``
(quotes, the full answer, the draft form) are opened right after the ack, because the trigger
expires after 3 seconds.  This path only ever calls the public engine (``ctx.ask``); internal
data (staff notes, other businesses' records) is never put into anything posted to a business.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot import events
from bot.language import detect_language
from bot.slack import blocks as bk
from bot.slack.context import SlackContext
from bot.slack.history import get_turn, thread_turns
from bot.slack.logs import error_code, kv, retry_handlers
from bot.slack.models import Feedback, Handoff
from bot.slack.questions import INTAKE_FAILED, QUESTION_ID, QuestionIn
from bot.slack.texts import t

log = logging.getLogger("bot.slack.listeners")

# Message subtypes that are still a person writing to us; every other subtype (edits, deletions,
# joins, bot posts) is ignored.
_USER_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
_DRAFT_WORDS = frozenset({"draft", "下書き", "したがき"})
_HELP_WORDS = frozenset({"", "help", "ヘルプ", "使い方", "?", "？"})
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


# ----------------------------------------------------------------------------------------------
# pure helpers (tested directly)


def is_user_dm(event: dict[str, Any]) -> bool:
    """A direct message a person wrote to us: not a bot, not an edit/deletion, not a system message."""
    return (event.get("type") == "message" and event.get("channel_type") == "im"
            and event.get("subtype") in _USER_SUBTYPES and not event.get("bot_id")
            and bool(event.get("user")) and not event.get("hidden"))


def strip_mentions(text: str, bot_user_id: str | None) -> str:
    """The question without the mention of the bot (other people's mentions stay)."""
    def repl(m: re.Match[str]) -> str:
        return "" if bot_user_id is None or m.group(1) == bot_user_id else m.group(0)

    return re.sub(r"\s+", " ", _MENTION.sub(repl, text or "")).strip()


# ----------------------------------------------------------------------------------------------
# Web API helpers: failures are logged (method and error code only) and never raised into Bolt


def call_api(client: WebClient, method: str, *, event_id: str | None = None, **kwargs: Any) -> dict | None:
    """The SDK method for ``method`` (``chat.postMessage`` → ``chat_postMessage``, which picks JSON or
    form encoding as Slack expects) with the client's retry policy; ``None`` and a log line on failure.
    """
    try:
        resp = getattr(client, method.replace(".", "_"))(**kwargs)
        return resp.data if isinstance(resp.data, dict) else {}
    except SlackApiError as exc:
        log.error(kv("slack_call_failed", method=method, event_id=event_id,
                     status=exc.response.status_code, error=error_code(exc.response.get("error"))))
    except Exception as exc:  # noqa: BLE001 - connection errors after the retries ran out
        log.error(kv("slack_call_failed", method=method, event_id=event_id, error=type(exc).__name__))
    return None


def respond_url(response_url: str, *, text: str, blocks: list[dict] | None = None) -> bool:
    """An ephemeral message through a ``response_url`` (works where the bot is not a member)."""
    try:
        resp = WebhookClient(response_url, retry_handlers=retry_handlers()).send(
            text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
    except Exception as exc:  # noqa: BLE001
        log.error(kv("slack_call_failed", method="response_url", error=type(exc).__name__))
        return False
    if resp.status_code != 200:
        log.error(kv("slack_call_failed", method="response_url", status=resp.status_code))
        return False
    return True


def tell_user(client: WebClient, body: dict[str, Any], text: str, blocks: list[dict] | None = None) -> None:
    """A private note to whoever pressed a button or typed a command, in the same place.

    Ephemeral source messages (``/ppp`` answers) and slash commands answer through the
    ``response_url``; messages in a channel or DM through ``chat.postEphemeral`` in their thread.
    """
    user = (body.get("user") or {}).get("id") or body.get("user_id")
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id") or body.get("channel_id")
    response_url = body.get("response_url")
    prefer_url = bool(body.get("command") or container.get("is_ephemeral") or not channel or not user)
    if prefer_url and response_url and respond_url(response_url, text=text, blocks=blocks):
        return
    if channel and user:
        thread_ts = (container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
                     or container.get("message_ts"))
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if blocks:
            kwargs["blocks"] = blocks
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if call_api(client, "chat.postEphemeral", **kwargs) is not None:
            return
        if response_url and respond_url(response_url, text=text, blocks=blocks):
            return
    log.error(kv("user_notice_undeliverable"))


# ----------------------------------------------------------------------------------------------
# the answer path: questions are stored before the ack (bot.slack.intake) and answered durably
# (bot.slack.answering); listeners only hand the stored question over, or apologize when it
# could not be stored.


def apologize_not_stored(ctx: SlackContext, client: WebClient, *, channel: str, thread_ts: str, question: str,
                         event_id: str | None) -> None:
    """The database refused the question: tell the asker once (the event was acked, Slack will not resend).

    Nothing was stored, so this apology cannot go through the outbox; it is the one direct post.
    """
    lang = detect_language(question)
    call_api(client, "chat.postMessage", event_id=event_id, channel=channel, thread_ts=thread_ts,
             text=t(lang, "storage_error", contact=ctx.city.desk.contact_line(lang)))


def claim_or_apologize(ctx: SlackContext, client: WebClient, body: dict[str, Any], *, channel: str,
                       thread_ts: str, question: str) -> bool:
    """``ctx.claim_event`` that turns a failed database write into an apology in the thread."""
    try:
        return ctx.claim_event(body)
    except SQLAlchemyError as exc:
        log.error(kv("storage_failed", step="claim_event", event_id=body.get("event_id"), error=type(exc).__name__))
        apologize_not_stored(ctx, client, channel=channel, thread_ts=thread_ts, question=question,
                             event_id=body.get("event_id"))
        return False


def _hand_over(ctx: SlackContext, context: BoltContext, client: WebClient, body: dict[str, Any], *,
               channel: str, thread_ts: str, question: str) -> None:
    """Answer the question the intake middleware stored, or apologize if it could not store it."""
    question_id = context.get(QUESTION_ID)
    if question_id is not None:
        ctx.answers.process(question_id)
    elif context.get(INTAKE_FAILED):
        apologize_not_stored(ctx, client, channel=channel, thread_ts=thread_ts, question=question,
                             event_id=body.get("event_id"))


def _post_help(ctx: SlackContext, client: WebClient, channel: str, thread_ts: str, lang: str,
               event_id: str | None) -> None:
    call_api(client, "chat.postMessage", event_id=event_id, channel=channel, thread_ts=thread_ts,
             text=t(lang, "help"), blocks=bk.help_blocks(ctx.city.suggested_prompts, lang))


# ----------------------------------------------------------------------------------------------
# registration


def _noop_ack(ack: Ack) -> None:
    ack()


def open_draft(ctx: SlackContext, body: dict[str, Any], client: WebClient, lang: str) -> None:
    """Hand the draft request to the records feature (or say it is coming) — right after the ack."""
    if not events.has_listener("open_draft"):
        tell_user(client, body, t(lang, "draft_soon"))
        return
    try:
        events.call("open_draft", body=body, client=client, ctx=ctx)
    except Exception as exc:  # noqa: BLE001 - another feature's failure must not go unanswered
        log.exception(kv("open_draft_failed", error=type(exc).__name__))
        tell_user(client, body, t(lang, "draft_failed"))


def register(app: App, ctx: SlackContext) -> None:
    """Register the business-facing listeners on ``app``."""
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
            events.call("desk_mention", event=event, client=client, ctx=ctx, say=say)
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
            if not ctx.db.storage_present():
                raise SQLAlchemyError("database file missing")
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

    # --- answer buttons ---------------------------------------------------------------------------
    def _turn_for(body: dict) -> tuple[dict, Any]:
        action = (body.get("actions") or [{}])[0]
        data = bk.parse_value(action.get("value"))
        return data, get_turn(ctx.db, data.get("turn"))

    def _feedback(body: dict, client: WebClient, rating: int) -> None:
        _, turn = _turn_for(body)
        if turn is None:
            tell_user(client, body, t("ja", "not_found"))
            return
        user = (body.get("user") or {}).get("id") or ""
        for _attempt in range(2):  # a concurrent double click may race the insert once
            try:
                with ctx.db.session() as session:
                    row = session.scalars(select(Feedback).where(Feedback.turn_id == turn.id,
                                                                 Feedback.user == user)).first()
                    if row is None:
                        session.add(Feedback(turn_id=turn.id, user=user, rating=rating, question=turn.question,
                                             answer=turn.answer, category=turn.category))
                    else:
                        row.rating = rating
                break
            except IntegrityError:
                continue
        log.info(kv("feedback_stored", rating=rating, category=turn.category))
        events.publish("answer_feedback", turn_ref=turn.ref, rating=rating)
        tell_user(client, body, t(turn.language, "thanks_feedback_up" if rating > 0 else "thanks_feedback_down"))

    def feedback_up(body: dict, client: WebClient) -> None:
        _feedback(body, client, 1)

    def feedback_down(body: dict, client: WebClient) -> None:
        _feedback(body, client, -1)

    app.action("feedback_up")(ack=_noop_ack, lazy=[feedback_up])
    app.action("feedback_down")(ack=_noop_ack, lazy=[feedback_down])

    def show_quote(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        data, turn = _turn_for(body)
        index = data.get("i")
        if turn is None or not isinstance(index, int) or not 0 <= index < len(turn.sources):
            tell_user(client, body, t("ja", "not_found"))
            return
        src = turn.sources[index]
        label = src.get("title", "") + (f" › {src['section']}" if src.get("section") else "")
        label += f", p. {src['page']}" if src.get("page") else ""
        call_api(client, "views.open", trigger_id=body.get("trigger_id"),
                 view=bk.quote_modal(label, src.get("text", ""), turn.language))

    app.action(re.compile(r"^show_quote_\d+$"))(show_quote)

    def show_full_answer(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        _, turn = _turn_for(body)
        if turn is None:
            tell_user(client, body, t("ja", "not_found"))
            return
        call_api(client, "views.open", trigger_id=body.get("trigger_id"),
                 view=bk.full_answer_modal(turn.answer, turn.language))

    app.action("show_full_answer")(show_full_answer)

    def draft_proposal(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        data, _ = _turn_for(body)
        open_draft(ctx, body, client, "en" if data.get("language") == "en" else "ja")

    app.action("draft_proposal")(draft_proposal)

    def handoff(body: dict, client: WebClient) -> None:
        hand_off(ctx, client, body)

    app.action("handoff")(ack=_noop_ack, lazy=[handoff])


def hand_off(ctx: SlackContext, client: WebClient, body: dict[str, Any]) -> None:
    """「担当者に相談する」: post the thread to the desk channel with the asker tagged, then confirm."""
    action = (body.get("actions") or [{}])[0]
    turn = get_turn(ctx.db, bk.parse_value(action.get("value")).get("turn"))
    if turn is None:
        tell_user(client, body, t("ja", "not_found"))
        return
    lang, contact = turn.language, ctx.city.desk.contact_line(turn.language)
    desk = ctx.settings.desk_channel_id
    if not desk:
        tell_user(client, body, t(lang, "handoff_unavailable", contact=contact))
        return
    asker = (body.get("user") or {}).get("id") or turn.user
    try:
        with ctx.db.session() as session:
            row = Handoff(turn_id=turn.id, channel=turn.channel, thread_ts=turn.thread_ts, asker=asker,
                          desk_channel=desk)
            session.add(row)
            session.flush()
            handoff_id = row.id
    except IntegrityError:
        tell_user(client, body, t(lang, "handoff_already"))
        return

    turns = thread_turns(ctx.db, turn.channel, turn.thread_ts) or [turn]
    permalink = None
    if turn.thread_ts and not turn.channel.startswith("D"):
        link = call_api(client, "chat.getPermalink", channel=turn.channel, message_ts=turn.thread_ts)
        permalink = (link or {}).get("permalink")
    posted = call_api(client, "chat.postMessage", channel=desk,
                      text=f"<@{asker}> さんから担当者への相談依頼です",
                      blocks=bk.handoff_blocks(asker=asker, turns=turns, channel=turn.channel, permalink=permalink),
                      unfurl_links=False)
    with ctx.db.session() as session:
        row = session.get(Handoff, handoff_id)
        if posted is None:
            session.delete(row)  # let the asker try again
        else:
            row.desk_ts = posted.get("ts")
    if posted is None:
        tell_user(client, body, t(lang, "handoff_failed", contact=contact))
        return
    log.info(kv("handoff_posted", turns=len(turns)))
    events.publish("handed_off", turn_ref=turn.ref)
    if turn.thread_ts:
        call_api(client, "chat.postMessage", channel=turn.channel, thread_ts=turn.thread_ts,
                 text=t(lang, "handoff_sent"))
    else:
        tell_user(client, body, t(lang, "handoff_sent"))


def register_fallbacks(app: App, ctx: SlackContext) -> None:
    """Acks for what the manifest subscribes to but a feature module may not have registered yet.

    Registered after the feature modules, so a feature's own listener always wins; without these,
    Bolt would answer 404 and Slack would retry.
    """

    @app.event("app_home_opened")
    def _home_opened() -> None:
        return None

    @app.event("assistant_thread_context_changed")
    def _context_changed() -> None:
        return None

    @app.shortcut("draft_from_message")
    def _draft_shortcut(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        open_draft(ctx, body, client, "ja")

    @app.command("/ppp-precedents")
    def _precedents(ack: Ack) -> None:
        ack(text=t("ja", "feature_soon"))
