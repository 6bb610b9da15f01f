"""The draft modal: opening it prefilled from every entry point, saving a draft, submitting.

Submitting saves the record first (with its idempotency key) and queues the confirmation to the
business and the desk card in the same transaction; the outbox worker delivers them.  The modal's
metadata is sealed for the user it was opened for, so a forged payload cannot name another
record, thread or key.
"""

from __future__ import annotations

import contextlib
import logging

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.db import utcnow
from bot.language import detect_language
from bot.records import blocks as rb
from bot.records.extract import extract
from bot.records.slack.home import publish_home
from bot.records.slack.prefill import conversation, profile
from bot.records.slack.request import parse_request, resolve_turn
from bot.records.slack.runtime import RecordsRuntime
from bot.records.validate import normalize_contact, validate
from bot.records.views import JST, NotAllowed, RecordNotFound, RecordView, SourceRef
from bot.slack.sealed import seal_view_meta, view_meta
from bot.slack.texts import t

log = logging.getLogger("bot.records.slack")


def open_draft(rt: RecordsRuntime, client: WebClient, body: dict) -> None:
    """Open the prefilled modal (or say the thread's proposal was already submitted)."""
    req = resolve_turn(rt.db, parse_request(body))
    if not req.user or not req.trigger_id:
        return
    existing: RecordView | None = None
    if req.record_pk is not None:
        try:
            existing = rt.service.get(record_pk=req.record_pk)
        except RecordNotFound:
            client.views_open(trigger_id=req.trigger_id, view=rb.info_modal(t("ja", "modal_title"), t("ja", "draft_not_found")))
            return
        if existing.proposer_user_id != req.user:
            client.views_open(trigger_id=req.trigger_id, view=rb.info_modal(t("ja", "modal_title"), t("ja", "draft_not_allowed")))
            return
    else:
        existing = rt.service.find_for_thread(req.user, req.channel, req.thread_ts)
    if existing is not None and existing.status != "draft":
        client.views_open(trigger_id=req.trigger_id, view=rb.exists_modal(existing, rt.city, existing.language))
        return

    hint_lang = req.language or (existing.language if existing else None)
    loading_id = None
    use_llm = bool(rt.settings.llm_model) and existing is None
    if use_llm:  # the model may take longer than the trigger lives: open first, fill in after
        opened = client.views_open(trigger_id=req.trigger_id, view=rb.loading_modal(hint_lang or "ja"))
        loading_id = (opened.get("view") or {}).get("id")
    prof, locale_lang = profile(client, req.user)
    if existing is not None:
        fields, lang = existing.fields, existing.language
    else:
        turns = conversation(rt.db, client, req, rt.settings.desk_channel_id)
        lang = req.language or (detect_language(t.text for t in turns if t.role == "user") if turns else None) \
            or locale_lang or "ja"
        fields = extract(turns, rt.settings if use_llm else None)
        fields = prof.merged(fields)
    meta = seal_view_meta(rt.settings, req.user, {
        "rid": existing.pk if existing else None, "ch": req.channel, "ts": req.thread_ts, "lang": lang,
        "idem": f"thread:{req.user}:{req.channel}:{req.thread_ts}" if req.channel and req.thread_ts else None})
    view = rb.draft_modal(fields, lang=lang, meta=meta)
    if loading_id:
        client.views_update(view_id=loading_id, view=view)
    else:
        client.views_open(trigger_id=req.trigger_id, view=view)
    log.info("records: draft modal opened (%s, prefill=%s)", "continue" if existing else "new",
             "llm" if use_llm else "rules")


def register(app: App, rt: RecordsRuntime) -> None:
    """The draft entry points this feature owns, the modal's submit and its 「下書きとして保存」."""

    # --- entry points we own --------------------------------------------------------------------
    @app.shortcut(rb.SHORTCUT_CALLBACK)
    def draft_from_message(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        open_draft(rt, client, body)

    @app.action(rb.ACTION_NEW_DRAFT)
    def new_draft(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        open_draft(rt, client, {"command": "home", "user_id": body["user"]["id"],
                                "trigger_id": body.get("trigger_id")})

    @app.action(rb.ACTION_EDIT_DRAFT)
    def edit_draft(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        open_draft(rt, client, body)

    # --- the modal ------------------------------------------------------------------------------
    @app.view(rb.DRAFT_CALLBACK)
    def submit_draft(ack: Ack, body: dict, view: dict) -> None:
        user = body["user"]["id"]
        meta = view_meta(rt.settings, view, user)
        lang = "en" if meta.get("lang") == "en" else "ja"
        fields = normalize_contact(rb.fields_from_state((view.get("state") or {}).get("values") or {}))
        errors = validate(fields, lang=lang, submit=True)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        try:
            rt.db.require_storage()
            result = rt.service.save(fields, proposer=user, submit=True, idem_key=meta.get("idem") or f"view:{view['id']}",
                                  record_pk=meta.get("rid"), source=SourceRef(meta.get("ch"), meta.get("ts")),
                                  language=lang)
        except NotAllowed:
            ack(response_action="errors", errors={"org_name": t(lang, "draft_not_allowed")})
            return
        except RecordNotFound:
            ack(response_action="errors", errors={"org_name": t(lang, "draft_not_found")})
            return
        except SQLAlchemyError as exc:
            log.error("records: submission not saved (%s)", type(exc).__name__)
            ack(response_action="errors", errors={"title": t(lang, "db_error")})
            return
        ack(response_action="update", view=rb.submitted_modal(result.record, lang))
        log.info("records: %s %s", result.record.record_id, "replayed" if result.replayed else "submitted")

    @app.action(rb.ACTION_SAVE_DRAFT)
    def save_draft(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        view = body.get("view") or {}
        user = body["user"]["id"]
        meta = view_meta(rt.settings, view, user)
        lang = "en" if meta.get("lang") == "en" else "ja"
        fields = normalize_contact(rb.fields_from_state((view.get("state") or {}).get("values") or {}))
        try:
            rt.db.require_storage()
            result = rt.service.save(fields, proposer=user, submit=False, idem_key=meta.get("idem") or f"view:{view['id']}",
                                  record_pk=meta.get("rid"), source=SourceRef(meta.get("ch"), meta.get("ts")),
                                  language=lang)
        except (NotAllowed, RecordNotFound) as exc:
            key = "draft_not_allowed" if isinstance(exc, NotAllowed) else "draft_not_found"
            client.views_update(view_id=view["id"], view=rb.info_modal(t(lang, "modal_title"), t(lang, key), lang))
            return
        except SQLAlchemyError as exc:
            log.error("records: draft not saved (%s)", type(exc).__name__)
            client.views_update(view_id=view["id"], view=rb.draft_modal(
                fields, lang=lang, meta=seal_view_meta(rt.settings, user, meta), notice=":warning: " + t(lang, "db_error")))
            return
        if result.replayed:
            client.views_update(view_id=view["id"], view=rb.info_modal(
                t(lang, "modal_title"), t(lang, "already_submitted", rid=result.record.record_id), lang))
            return
        meta = seal_view_meta(rt.settings, user, {**meta, "rid": result.record.pk})
        saved_at = utcnow().astimezone(JST).strftime("%H:%M")
        client.views_update(view_id=view["id"], view=rb.draft_modal(
            result.record.fields, lang=lang, meta=meta, notice=t(lang, "draft_saved", time=saved_at)))
        log.info("records: draft #%s saved", result.record.pk)

    @app.action(rb.ACTION_DELETE_DRAFT)
    def delete_draft(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        # Nothing deletable for this user is not an error: the refreshed Home shows what there is.
        with contextlib.suppress(ValueError, NotAllowed, RecordNotFound):
            rt.service.delete(record_pk=int((body.get("actions") or [{}])[0].get("value") or 0), actor=user)
        publish_home(rt, client, user)
