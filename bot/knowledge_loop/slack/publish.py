"""「回答として公開」: a staff reply in a hand-off thread becomes a public, cited, withdrawable answer.

Entry points: the message shortcut ``publish_desk_answer`` on a staff reply in the desk channel's
hand-off thread, the 「回答として公開」 button on the hand-off post itself (the answer typed in the
modal), and the 「回答する」 button of a gap in App Home.  Both open the same modal: the
business's question generalized (rules, or the configured LLM with the rules as fallback; always
editable) and the staff answer (editable).  On submission — staff checked again on the server —
:meth:`DeskAnswers.approve` stores, audits and publishes it, the answering engine reloads, and the
business that asked is told in its own thread.  Withdrawal comes from App Home.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy import select

from bot.db import utcnow
from bot.knowledge_loop.desk_answers import MAX_ANSWER, MAX_QUESTION, DeskAnswerError, DeskAnswers, generalize
from bot.knowledge_loop.gaps import GAP_SAMPLE, closed_by
from bot.knowledge_loop.log import QuestionLog
from bot.knowledge_loop.mask import mask_personal
from bot.knowledge_loop.models import QuestionLogEntry
from bot.knowledge_loop.slack import common
from bot.knowledge_loop.slack.hooks import question_vector
from bot.knowledge_loop.slack.texts import b, s
from bot.records.outbox import OutboxWorker
from bot.slack import kit
from bot.slack.kit import escape
from bot.slack.models import ConversationTurn, Handoff
from bot.slack.payload import action_of, channel_of, user_of
from bot.slack.sealed import seal_view_meta, view_meta
from bot.slack.staff import staff_only
from bot.slack.texts import t
from bot.slack.web import call_api, tell_user

log = logging.getLogger("bot.knowledge_loop.slack")

SHORTCUT = "publish_desk_answer"
MODAL = "loop_publish_answer"
ACTION_GAP = "loop_answer_gap"
ACTION_HANDOFF = "loop_answer_handoff"  # 「回答として公開」 on the hand-off post itself
ACTION_WITHDRAW = "loop_withdraw_answer"
INPUT = "value"


def publish_modal(question: str, answer: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The modal staff approve from: both texts editable, nothing else from the conversation shown."""
    def field(block_id: str, label: str, hint: str, value: str, limit: int) -> dict[str, Any]:
        element = kit.text_input(INPUT, initial=value, multiline=True, max_length=limit)
        return kit.input_block(block_id, label, element, hint=hint)

    return kit.modal(MODAL, s("publish_title"), [
        kit.context(s("publish_intro")),
        field("question", s("question_label"), s("question_hint"), question, MAX_QUESTION),
        field("answer", s("answer_label"), s("answer_hint"), answer, MAX_ANSWER)],
        close=s("cancel"), submit=s("publish_submit"), metadata=meta)


def _glossary(ctx: Any) -> Any:
    glossary = getattr(ctx.engine, "glossary", None)
    if glossary is None:
        from bot.engine.glossary import load_glossary

        glossary = load_glossary(ctx.settings.knowledge_dir)
    return glossary


def suggest_question(ctx: Any, question: str) -> str:
    """The question without person or company: the configured LLM's wording, the rules' on any error."""
    rules = generalize(question, _glossary(ctx))
    if not ctx.settings.llm_model:
        return rules
    try:
        from bot.llm import chat_model

        prompt = ("次の事業者からの質問を、個人名・会社名・連絡先・固有の事情を除いた一般的な質問1文に書き換えてください。"
                  "質問文だけを出力してください。\n\n" + mask_personal(question))
        reply = chat_model(ctx.settings).invoke(prompt)
        text = " ".join(str(getattr(reply, "content", reply) or "").split())
        text = generalize(text) if text else ""
        return text[:MAX_QUESTION] if text else rules
    except Exception as exc:  # noqa: BLE001 - any model failure: the rules' suggestion stands
        log.warning("knowledge_loop: LLM generalization failed (%s); rules used", type(exc).__name__)
        return rules


def _values(view: dict[str, Any]) -> tuple[str, str]:
    values = (view.get("state") or {}).get("values") or {}
    get = lambda block: str(((values.get(block) or {}).get(INPUT) or {}).get("value") or "").strip()  # noqa: E731
    return get("question"), get("answer")


def _int_value(body: dict[str, Any]) -> int:
    """The pressed button's value as an id (0, which matches no row, when it is not a number)."""
    try:
        return int(action_of(body).get("value") or 0)
    except ValueError:
        return 0


def _handoff_turn(ctx: Any, handoff_id: Any) -> tuple[Handoff | None, ConversationTurn | None]:
    if not isinstance(handoff_id, int):
        return None, None
    with ctx.db.session() as session:
        handoff = session.get(Handoff, handoff_id)
        turn = session.get(ConversationTurn, handoff.turn_id) if handoff and handoff.turn_id else None
        if handoff is not None:
            session.expunge(handoff)
        if turn is not None:
            session.expunge(turn)
        return handoff, turn


def open_modal(ctx: Any, client: WebClient, trigger_id: str, user: str, question: str, answer: str,
               meta: dict[str, Any]) -> None:
    """Open the modal at once (the trigger lasts 3 s); with an LLM configured, fill it in afterwards."""
    sealed = seal_view_meta(ctx.settings, user, meta)
    if not ctx.settings.llm_model:
        call_api(client, "views.open", trigger_id=trigger_id,
                   view=publish_modal(generalize(question, _glossary(ctx)), answer, sealed))
        return
    opened = call_api(client, "views.open", trigger_id=trigger_id, view=common.info_view(s("publish_title"), s("publishing")))
    view_id = ((opened or {}).get("view") or {}).get("id")
    if view_id:
        call_api(client, "views.update", view_id=view_id,
                   view=publish_modal(suggest_question(ctx, question), answer, sealed))


TELL_WITHIN = timedelta(days=30)  # askers of older closed questions are not messaged out of the blue
MAX_TOLD = 20  # businesses told per approval, besides the hand-off's own


def close_gaps(ctx: Any, qlog: QuestionLog, answer_id: str, question: str, *, entry_id: Any = None,
               turn_ref: str | None = None) -> list[str]:
    """Take the questions the new answer covers out of 「未回答・要改善」; their turn refs ([] on failure)."""
    try:
        misses = qlog.misses(limit=GAP_SAMPLE)
        ids = closed_by(misses, question_vector(ctx, question), turn_ref=turn_ref,
                        entry_id=entry_id if isinstance(entry_id, int) else None)
        qlog.close(ids, answer_id)
        return [e.turn_ref or "" for e in misses if e.id in ids]
    except Exception as exc:  # noqa: BLE001 - the answer is published; the gap list is only a view
        log.warning("knowledge_loop: gaps not closed for %s (%s)", answer_id, type(exc).__name__)
        return []


def tell_askers(ctx: Any, worker: OutboxWorker, answer_id: str, title: str, answer: str,
                turn_refs: list[str], *, now: datetime | None = None) -> int:
    """Tell each business whose recent question the answer now covers, in the thread it asked in.

    Once per question (outbox key), only where the question has a thread (an ephemeral ``/ppp``
    answer has none) and was asked within :data:`TELL_WITHIN`; at most :data:`MAX_TOLD`.
    """
    refs = [r for r in dict.fromkeys(turn_refs) if r]
    if not refs:
        return 0
    since = (now or utcnow()) - TELL_WITHIN
    with ctx.db.session() as session:
        turns = list(session.scalars(select(ConversationTurn).where(ConversationTurn.ref.in_(refs))
                                     .where(ConversationTurn.created_at >= since)
                                     .order_by(ConversationTurn.created_at.desc())))
        session.expunge_all()
    told = 0
    for turn in turns:
        if told >= MAX_TOLD:
            break
        if not turn.thread_ts:
            continue
        lang = turn.language if turn.language == "en" else "ja"
        args = {"channel": turn.channel, "thread_ts": turn.thread_ts, "unfurl_links": False,
                "text": b(lang, "question_answered", answer=answer, title=title)}
        told += common.queue_notice(ctx.db, worker, f"loop-told:{answer_id}:{turn.ref}", args)
    return told


def register(app: App, ctx: Any, worker: OutboxWorker, qlog: QuestionLog) -> None:
    answers = DeskAnswers(ctx.db, ctx.settings, common.public_store(ctx))
    staff = [staff_only(ctx.staff, t("ja", "staff_only"))]

    def ack_only(ack: Ack) -> None:
        ack()

    # --- the shortcut on a staff reply in a hand-off thread -----------------------------------------
    @app.shortcut(SHORTCUT, middleware=staff)
    def from_reply(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        user = user_of(body)
        message = body.get("message") or {}
        channel = channel_of(body)
        thread = str(message.get("thread_ts") or "")
        handoff = None
        if channel and channel == ctx.settings.desk_channel_id and thread:
            with ctx.db.session() as session:
                handoff = session.scalars(select(Handoff).where(Handoff.desk_channel == channel,
                                                                Handoff.desk_ts == thread)).first()
                handoff_id = handoff.id if handoff else None
        if handoff is None:
            tell_user(client, body, s("not_handoff_thread"))
            return
        _, turn = _handoff_turn(ctx, handoff_id)
        question = turn.question if turn is not None else ""
        answer = "" if message.get("bot_id") else str(message.get("text") or "")
        open_modal(ctx, client, body.get("trigger_id", ""), user, question, answer, {"h": handoff_id})

    # --- the button on the hand-off post: answer without replying in the thread first -------------
    ctx.handoff_actions = lambda handoff_id: [kit.button(s("publish_button"), ACTION_HANDOFF, str(handoff_id))]

    @app.action(ACTION_HANDOFF, middleware=staff)
    def from_handoff(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        handoff_id = _int_value(body)
        handoff, turn = _handoff_turn(ctx, handoff_id)
        if handoff is None or turn is None:
            tell_user(client, body, s("handoff_missing"))
            return
        open_modal(ctx, client, body.get("trigger_id", ""), user_of(body), turn.question, "", {"h": handoff_id})

    # --- 「回答する」 on a gap in App Home -------------------------------------------------------------
    @app.action(ACTION_GAP, middleware=staff)
    def from_gap(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        user = user_of(body)
        entry_id = _int_value(body)
        with ctx.db.session() as session:
            entry = session.get(QuestionLogEntry, entry_id)
            question = entry.question if entry is not None else ""
            turn_ref = entry.turn_ref if entry is not None else None
        if not question:
            call_api(client, "views.open", trigger_id=body.get("trigger_id"),
                       view=common.info_view(s("publish_title"), s("gap_missing")))
            return
        with ctx.db.session() as session:
            hid = session.scalar(select(Handoff.id).join(ConversationTurn, ConversationTurn.id == Handoff.turn_id)
                                 .where(ConversationTurn.ref == turn_ref)) if turn_ref else None
        open_modal(ctx, client, body.get("trigger_id", ""), user, question, "", {"g": entry_id, "h": hid})

    # --- the submission ---------------------------------------------------------------------------
    def check_submission(ack: Ack, view: dict) -> None:
        question, answer = _values(view)
        errors = {}
        for block, value, limit in (("question", question, MAX_QUESTION), ("answer", answer, MAX_ANSWER)):
            if not value:
                errors[block] = s("empty")
            elif len(value) > limit:
                errors[block] = s("too_long", limit=limit)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack(response_action="update", view=common.info_view(s("publish_title"), s("publishing")))

    def approve(body: dict, view: dict, client: WebClient) -> None:
        user = user_of(body)
        question, answer = _values(view)
        if not question or not answer:
            return
        meta = view_meta(ctx.settings, view, user)
        handoff, turn = _handoff_turn(ctx, meta.get("h"))
        try:
            published = answers.approve(question, answer, user, turn_ref=turn.ref if turn is not None else None)
        except DeskAnswerError as exc:
            common.say_in_modal(client, view.get("id"), s("publish_title"), s("publish_failed", reason=str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - the staff member must hear back
            log.exception("knowledge_loop: approval failed (%s)", type(exc).__name__)
            common.say_in_modal(client, view.get("id"), s("publish_title"), s("publish_failed", reason=type(exc).__name__))
            return
        common.reload_engine(ctx)
        closed = close_gaps(ctx, qlog, published.answer_id, question, entry_id=meta.get("g"),
                            turn_ref=turn.ref if turn is not None else None)
        log.info("knowledge_loop: %s approved (%d gap questions closed)", published.answer_id, len(closed))
        text = s("published", answer_id=published.answer_id, title=published.title, question=escape(question))
        if closed:
            text += "\n\n" + s("gaps_closed", count=len(closed))
        if handoff is not None and turn is not None:
            lang = turn.language if turn.language == "en" else "ja"
            args: dict[str, Any] = {"channel": turn.channel if turn.thread_ts else handoff.asker,
                                    "text": b(lang, "answer_published", answer=answer, title=published.title),
                                    "unfurl_links": False}
            if turn.thread_ts:
                args["thread_ts"] = turn.thread_ts
            common.queue_notice(ctx.db, worker, f"loop-told:{published.answer_id}", args)
            text += "\n\n" + s("published_told")
        others = [r for r in closed if turn is None or r != turn.ref]
        told = tell_askers(ctx, worker, published.answer_id, published.title, answer, others)
        if told:
            text += "\n\n" + s("published_told_others", count=told)
        common.say_in_modal(client, view.get("id"), s("publish_title"), text)

    app.view(MODAL, middleware=[staff_only(ctx.staff, t("ja", "staff_only"), field="answer")])(
        ack=check_submission, lazy=[approve])
    app.view(common.INFO)(ack_only)

    # --- withdrawal from App Home ------------------------------------------------------------------
    def withdraw(body: dict, client: WebClient) -> None:
        user = user_of(body)
        answer_id = str(action_of(body).get("value") or "")
        try:
            answers.withdraw(answer_id, user)
        except DeskAnswerError as exc:
            tell_user(client, body, s("withdraw_failed", reason=str(exc)))
        else:
            common.reload_engine(ctx)
            reopened = qlog.reopen(answer_id)
            log.info("knowledge_loop: %s withdrawn (%d gap questions reopened)", answer_id, reopened)
        ctx.refresh_home(client, user)

    app.action(ACTION_WITHDRAW, middleware=staff)(ack=ack_only, lazy=[withdraw])
