"""Slack edge of the records feature: the draft modal, the desk's status buttons, App Home, outbox.

``register(app, ctx)`` is called by ``bot.slack.app.build_app``.  Entry points:

- ``open_draft`` (``bot.events``): the answer's 「提案の下書きを作成」 button and ``/ppp draft``,
  both owned by the Slack surface; plus our own message shortcut ``draft_from_message`` and the
  App Home buttons.  The modal is prefilled from ``users.info`` and the conversation, every field
  editable; it can be saved as a draft or submitted.
- Submitting saves the record first (with its idempotency key) and queues the confirmation to the
  business and the desk card in the same transaction; the outbox worker delivers them.
- Status buttons on the card are checked against the staff directory on the server for every
  click and every modal submission; a refused click changes nothing.
- Replies in the desk card's thread are staff notes: nothing here listens to them, so nothing can
  forward them to a business.

Log lines carry record numbers, statuses and error codes only — never names, emails or text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot import events
from bot.city import CityProfile
from bot.config import Settings
from bot.db import Database, utcnow
from bot.language import detect_language
from bot.records import blocks as rb
from bot.records.extract import ConvTurn, coerce_turns, extract
from bot.records.fields import OPEN_STATUSES, STAFF_STATUSES, STATUS_NOTE, ProposalFields
from bot.records.models import OutboxMessage
from bot.records.outbox import Defer, OutboxJob, OutboxWorker, enqueue
from bot.records.service import (
    JST,
    NotAllowed,
    RecordNotFound,
    RecordService,
    RecordView,
    SourceRef,
    doc_titles,
)
from bot.records.validate import normalize_contact, validate
from bot.slack.escape import escape
from bot.slack.sealed import seal, unseal

log = logging.getLogger("bot.records.slack")

# How long a draft button waits for its answer's turn row (the trigger_id lives 3 s).
_TURN_WAIT_TRIES, _TURN_WAIT_S = 8, 0.1
_REFUSED = "この操作は公民連携デスクの職員のみ行えます。ステータスは変更していません。"
_DB_ERROR_STAFF = "一時的な障害のため記録できませんでした。少し時間をおいて、もう一度お試しください。"


@dataclass
class Runtime:
    """What the records feature keeps per Slack app: the service and its outbox worker."""

    settings: Settings
    db: Database
    city: CityProfile
    client: WebClient
    service: RecordService
    worker: OutboxWorker
    is_staff: Callable[..., bool] | None = None


_RUNTIMES: dict[int, Runtime] = {}
_LOCK = threading.Lock()


def runtime(ctx: Any) -> Runtime:
    """The runtime ``register`` made for this context (tests reach the worker through it)."""
    return _RUNTIMES[id(ctx)]


def shutdown(ctx: Any | None = None) -> None:
    """Stop the outbox worker of one context, or of all (at exit, between tests)."""
    with _LOCK:
        keys = [id(ctx)] if ctx is not None else list(_RUNTIMES)
        runtimes = [_RUNTIMES.pop(k) for k in keys if k in _RUNTIMES]
    for rt in runtimes:
        rt.worker.stop()


# --- outbox delivery ------------------------------------------------------------------------------


def _pending(db: Database, kind: str, record_pk: int) -> bool:
    with db.session() as s:
        return s.scalar(select(OutboxMessage.id).where(OutboxMessage.kind == kind, OutboxMessage.record_pk == record_pk,
                                                       OutboxMessage.status == "pending").limit(1)) is not None


def _permalink(client: WebClient, channel: str | None, ts: str | None) -> str | None:
    """Best-effort link; a DM between a business and the bot is useless to staff, so none."""
    if not channel or not ts or channel.startswith("D"):
        return None
    try:
        return client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except Exception as exc:  # noqa: BLE001 - a missing link must not block the post
        log.info("records: permalink unavailable (%s)", type(exc).__name__)
        return None


def render_card(rt: Runtime, record: RecordView) -> tuple[str, list[dict]]:
    """The desk card for the record's current state, with similar precedents when a listener answers."""
    precedents = None
    if events.has_listener("similar_precedents") and record.record_id:
        try:
            precedents = events.call("similar_precedents", settings=rt.settings,
                                     text=f"{record.fields.title}\n{record.fields.summary}", k=3,
                                     exclude_record_id=record.record_id)
        except Exception as exc:  # noqa: BLE001 - the card goes out without the section
            log.warning("records: similar precedents failed (%s)", type(exc).__name__)
    last = None
    history = rt.service.history(record.record_id) if record.record_id else []
    if history and history[-1]["to_status"] in STAFF_STATUSES:
        last = dict(history[-1])
        last["at_label"] = last["at"][:16].replace("T", " ") if last.get("at") else ""
    return rb.desk_card(record, rt.service.flags(record), precedents=precedents or None, last_change=last)


def _deliver_desk_card(rt: Runtime, job: OutboxJob) -> None:
    record = rt.service.get(record_pk=job.record_pk)
    if record.desk_ts:
        return  # already posted (a redelivery after a crash between post and commit)
    channel = rt.settings.desk_channel_id
    if not channel:
        raise RuntimeError("DESK_CHANNEL_ID is not set")
    if not record.permalink:
        link = _permalink(rt.client, record.channel_id, record.thread_ts)
        if link:
            rt.service.set_permalink(record.pk, link)
            record.permalink = link
    text, blocks = render_card(rt, record)
    resp = rt.client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False,
                                      unfurl_media=False)
    ts, posted_in = resp["ts"], resp.get("channel") or channel
    rt.service.set_card(record.pk, channel=posted_in, ts=ts, permalink=_permalink(rt.client, posted_in, ts))
    log.info("records: desk card posted for %s", record.display_id)


def _deliver_card_update(rt: Runtime, job: OutboxJob) -> None:
    record = rt.service.get(record_pk=job.record_pk)
    if not record.desk_ts:
        if _pending(rt.db, "desk_card", record.pk):
            raise Defer(1.0)  # the card is not posted yet; it will be rendered fresh when it is
        return
    text, blocks = render_card(rt, record)
    rt.client.chat_update(channel=record.desk_channel_id, ts=record.desk_ts, text=text, blocks=blocks)
    if rt.service.get(record_pk=record.pk).version != record.version:
        raise Defer(0.0)  # changed while we rendered: show the newer state too


def _private(job: OutboxJob) -> bool:
    """Status news that carries the desk's own words (a reason, a request) is for the proposer only."""
    return job.payload.get("template") == "status" and (
        bool(job.payload.get("note")) or job.payload.get("to") in rb.PRIVATE_STATUSES)


def _open_dm(rt: Runtime, user: str) -> str:
    """The proposer's DM channel with the app (``conversations.open``; Slack returns the same one)."""
    resp = rt.client.conversations_open(users=user)
    return str((resp.get("channel") or {}).get("id") or user)


def _deliver_business(rt: Runtime, job: OutboxJob) -> None:
    record = rt.service.get(record_pk=job.record_pk)
    lang = record.language
    if job.payload.get("template") == "submitted":
        text, blocks = rb.confirmation_message(record, rt.city, lang, doc_titles(rt.settings.knowledge_dir))
    else:
        text, blocks = rb.status_message(record, str(job.payload.get("to")), job.payload.get("note"), rt.city, lang)
    if _private(job) and not (record.channel_id or "").startswith("D"):
        _deliver_privately(rt, job, record, text, blocks)
        return
    # Without a thread of its own (``/ppp draft``, App Home) the business hears in its DM with the app.
    channel = record.channel_id if record.thread_ts else record.proposer_user_id
    kwargs: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks, "unfurl_links": False}
    if record.thread_ts:
        kwargs["thread_ts"] = record.thread_ts
    resp = rt.client.chat_postMessage(**kwargs)
    if not record.thread_ts and resp.get("ts"):
        rt.service.set_thread(record.pk, channel=resp.get("channel") or channel, thread_ts=resp["ts"])
    log.info("records: business told about %s (%s)", record.display_id, job.payload.get("template"))


def _deliver_privately(rt: Runtime, job: OutboxJob, record: RecordView, text: str, blocks: list[dict]) -> None:
    """A reason or request goes to the proposer's DM; the channel thread gets a neutral pointer.

    The thread may be a public or Slack Connect channel that other companies read, so it learns
    only that the desk wrote to the proposer.  The pointer is its own outbox row (posted once,
    after the DM): a failure posting it never resends the DM.
    """
    dm = _open_dm(rt, record.proposer_user_id)
    rt.client.chat_postMessage(channel=dm, text=text, blocks=blocks, unfurl_links=False)
    log.info("records: business told privately about %s (%s)", record.display_id, job.payload.get("to"))
    if record.channel_id and record.thread_ts:
        with rt.db.session() as s:
            queued = enqueue(s, "business_pointer", record.pk, {}, dedupe_key=f"business_pointer:{job.id}")
        if queued:
            rt.worker.kick()


def _deliver_pointer(rt: Runtime, job: OutboxJob) -> None:
    record = rt.service.get(record_pk=job.record_pk)
    if not record.channel_id or not record.thread_ts:
        return
    text = rb.t(record.language, "private_pointer")
    rt.client.chat_postMessage(channel=record.channel_id, thread_ts=record.thread_ts, text=text,
                               blocks=[rb.section(text)], unfurl_links=False)


def _announcer():
    """``bot.events.publish`` on one background thread: in order, and never on an ack's time."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="records-events")

    def publish(name: str, **payload: Any) -> None:
        pool.submit(events.publish, name, **payload)

    publish.pool = pool  # type: ignore[attr-defined]
    return publish


def make_runtime(settings: Settings, db: Database, client: WebClient, city: CityProfile, *,
                 is_staff: Callable[..., bool] | None = None, **worker_kw: Any) -> Runtime:
    """Service + outbox worker delivering through ``client`` (not started); ``worker_kw`` tunes
    polling and backoff.  Also what a process without the Slack app (a CLI drain) would use."""
    service = RecordService(db, settings, city=city, publish=_announcer())
    holder: dict[str, Runtime] = {}
    handlers = {
        "desk_card": lambda job: _deliver_desk_card(holder["rt"], job),
        "card_update": lambda job: _deliver_card_update(holder["rt"], job),
        "business_message": lambda job: _deliver_business(holder["rt"], job),
        "business_pointer": lambda job: _deliver_pointer(holder["rt"], job),
    }
    worker = OutboxWorker(db, handlers, **worker_kw)
    rt = Runtime(settings=settings, db=db, city=city, client=client, service=service, worker=worker,
                 is_staff=is_staff)
    holder["rt"] = rt
    service.on_queued = worker.kick
    return rt


# --- opening the modal ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftRequest:
    """Where a draft request came from, whatever the entry point's payload shape."""

    user: str
    trigger_id: str | None
    channel: str | None
    thread_ts: str | None
    question: str
    message_text: str
    language: str | None
    record_pk: int | None = None
    turn_ref: str | None = None  # the answer's button: where it came from is looked up, not read


def parse_request(body: dict) -> DraftRequest:
    """Button (``block_actions``), slash command, message shortcut or App Home button → one shape.

    From the answer's button only the turn reference is taken: its ``channel``/``thread_ts``/
    ``question`` travel in a client payload and are ignored (:func:`resolve_turn` reads them from
    the turn the app stored when it posted the answer).  A shortcut's channel and message come from
    Slack's own envelope around the message it was used on.
    """
    user = (body.get("user") or {}).get("id") or body.get("user_id") or ""
    trigger = body.get("trigger_id")
    if body.get("type") == "message_action":
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id")
        thread = message.get("thread_ts") or message.get("ts")
        text = message.get("text") or ""
        return DraftRequest(user, trigger, channel, thread, "", text, None)
    if body.get("command"):
        return DraftRequest(user, trigger, None, None, "", "", None)
    action = (body.get("actions") or [{}])[0]
    if action.get("action_id") == rb.ACTION_EDIT_DRAFT:
        try:
            pk = int(action.get("value") or "")
        except ValueError:
            pk = None
        return DraftRequest(user, trigger, None, None, "", "", None, record_pk=pk)
    data = {}
    try:
        parsed = json.loads(action.get("value") or "{}")
        data = parsed if isinstance(parsed, dict) else {}
    except ValueError:
        data = {}
    ref = data.get("turn")
    return DraftRequest(user, trigger, None, None, "", "", None, turn_ref=ref if isinstance(ref, str) else None)


def resolve_turn(db: Database, req: DraftRequest) -> DraftRequest:
    """The request with channel, thread, question and language of the stored turn its button names.

    An unknown reference yields a draft without a thread.  Someone pressing the button under
    another person's answer drafts from that thread with only their own turns, never the other
    person's question.
    """
    if not req.turn_ref:
        return req
    from bot.slack.history import get_turn

    turn = get_turn(db, req.turn_ref)
    for _ in range(_TURN_WAIT_TRIES):  # stored right after Slack took the answer: a fast click may beat it
        if turn is not None:
            break
        time.sleep(_TURN_WAIT_S)
        turn = get_turn(db, req.turn_ref)
    if turn is None:
        return replace(req, channel=None, thread_ts=None, question="")
    thread = turn.thread_ts or None
    own = turn.user == req.user
    return replace(req, channel=turn.channel if thread else None, thread_ts=thread,
                   question=turn.question if own else "",
                   language=turn.language if turn.language in ("ja", "en") else None)


def profile(client: WebClient, user: str) -> tuple[ProposalFields, str | None]:
    """Name and email from ``users.info`` (and the user's locale as a language hint)."""
    try:
        info = client.users_info(user=user, include_locale=True).get("user") or {}
    except Exception as exc:  # noqa: BLE001 - a form without a name is better than no form
        log.info("records: users.info unavailable (%s)", type(exc).__name__)
        return ProposalFields(), None
    prof = info.get("profile") or {}
    name = prof.get("real_name") or info.get("real_name") or prof.get("display_name") or ""
    locale = str(info.get("locale") or "")
    lang = "en" if locale.startswith("en") else "ja" if locale.startswith("ja") else None
    return ProposalFields(contact_name=name, email=prof.get("email") or ""), lang


def conversation(db: Database, client: WebClient, req: DraftRequest, desk_channel: str | None = None) -> list[ConvTurn]:
    """The proposer's own turns of the thread (stored turns first, ``conversations.replies`` else).

    Nothing is read from the desk channel: its threads hold staff notes and cards, never a
    business's conversation.
    """
    turns: list[ConvTurn] = []
    if req.channel and req.thread_ts and req.channel != desk_channel:
        try:
            from bot.slack.history import thread_turns

            stored = [t for t in thread_turns(db, req.channel, req.thread_ts) if not t.user or t.user == req.user]
            turns = coerce_turns(stored)
        except Exception as exc:  # noqa: BLE001 - history is a convenience for the prefill
            log.info("records: stored turns unavailable (%s)", type(exc).__name__)
        if not turns:
            try:
                resp = client.conversations_replies(channel=req.channel, ts=req.thread_ts, limit=50)
                for m in resp.get("messages") or []:
                    if m.get("bot_id"):
                        turns.append(ConvTurn("assistant", m.get("text") or ""))
                    elif m.get("user") == req.user:
                        turns.append(ConvTurn("user", m.get("text") or ""))
            except Exception as exc:  # noqa: BLE001
                log.info("records: conversations.replies unavailable (%s)", type(exc).__name__)
    if req.message_text and not any(t.text == req.message_text for t in turns):
        turns.append(ConvTurn("user", req.message_text))
    if req.question and not any(t.role == "user" and t.text == req.question for t in turns):
        turns.insert(0, ConvTurn("user", req.question))
    return [t for t in turns if t.text.strip()]


def open_draft(rt: Runtime, client: WebClient, body: dict) -> None:
    """Open the prefilled modal (or say the thread's proposal was already submitted)."""
    req = resolve_turn(rt.db, parse_request(body))
    if not req.user or not req.trigger_id:
        return
    existing: RecordView | None = None
    if req.record_pk is not None:
        try:
            existing = rt.service.get(record_pk=req.record_pk)
        except RecordNotFound:
            client.views_open(trigger_id=req.trigger_id, view=rb.info_modal("提案の下書き", rb.t("ja", "not_found")))
            return
        if existing.proposer_user_id != req.user:
            client.views_open(trigger_id=req.trigger_id, view=rb.info_modal("提案の下書き", rb.t("ja", "not_allowed")))
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
    meta = seal_meta(rt, req.user, {
        "rid": existing.pk if existing else None, "ch": req.channel, "ts": req.thread_ts, "lang": lang,
        "idem": f"thread:{req.user}:{req.channel}:{req.thread_ts}" if req.channel and req.thread_ts else None})
    view = rb.draft_modal(fields, lang=lang, meta=meta)
    if loading_id:
        client.views_update(view_id=loading_id, view=view)
    else:
        client.views_open(trigger_id=req.trigger_id, view=view)
    log.info("records: draft modal opened (%s, prefill=%s)", "continue" if existing else "new",
             "llm" if use_llm else "rules")


# --- registration ---------------------------------------------------------------------------------


def _on_open_draft(body: dict, client: WebClient, ctx: Any, **_: Any) -> None:
    """``bot.events`` listener; module-level so that several apps in one process share one entry."""
    open_draft(runtime(ctx), client, body)


class StorageMissing(SQLAlchemyError):
    """The database file is gone: a write would succeed on a file nothing reads again."""


def _require_storage(rt: Runtime) -> None:
    """Refuse to save (and so to confirm) when the database is not where it was opened."""
    if not rt.db.storage_present():
        raise StorageMissing("database file missing")


def _key(rt: Runtime) -> str:
    """The HMAC key for modal metadata: the signing secret (the bot token in Socket Mode)."""
    return rt.settings.slack_signing_secret or rt.settings.slack_bot_token or ""


def seal_meta(rt: Runtime, user: str, meta: dict) -> dict:
    """``meta`` sealed for ``user`` (``bot.slack.sealed``): record, thread and key cannot be forged."""
    return seal(meta, user=user, key=_key(rt))


def _meta(rt: Runtime, view: dict, user: str) -> dict:
    """The modal's metadata if this app sealed it for ``user``; ``{}`` (trust nothing) otherwise."""
    raw = view.get("private_metadata") or ""
    data = unseal(raw, user=user, key=_key(rt))
    if raw and not data:
        log.warning("records: modal metadata refused (not sealed by this app for this user)")
    return data


def _tell(client: WebClient, body: dict, text: str) -> None:
    from bot.slack.listeners import tell_user

    tell_user(client, body, text)


def publish_home(rt: Runtime, client: WebClient, user: str) -> None:
    """App Home: the staff queue for staff, a business's own records for everyone else."""
    staff = bool(rt.is_staff and rt.is_staff(user, client))
    if staff:
        counts = rt.service.counts()
        queue = {s: list(reversed(rt.service.list(status=s, limit=50))) for s in OPEN_STATUSES}
        own = rt.service.list(proposer=user, status="draft")
        view = rb.home_staff(counts, queue, own)
    else:
        records = rt.service.list(proposer=user, include_drafts=True, limit=50)
        langs = {r.language for r in records}
        view = rb.home_business(records, "en" if langs == {"en"} else "ja")
    extra = events.call("home_sections", user=user, staff=staff, client=client) or []  # the knowledge loop's
    view["blocks"] = view["blocks"][:100 - len(extra)] + extra
    client.views_publish(user_id=user, view=view)


def register(app: App, ctx: Any, *, worker_options: dict | None = None) -> Runtime:
    """Wire the records feature into ``app`` and start its outbox worker (returns the runtime)."""
    rt = make_runtime(ctx.settings, ctx.db, ctx.client or app.client, ctx.city, is_staff=ctx.staff.is_staff,
                      **(worker_options or {}))
    service, worker = rt.service, rt.worker
    with _LOCK:
        old = _RUNTIMES.pop(id(ctx), None)
        _RUNTIMES[id(ctx)] = rt
    if old is not None:
        old.worker.stop()
    weakref.finalize(ctx, shutdown_key, id(ctx))
    events.subscribe("open_draft", _on_open_draft)
    events.subscribe("publish_home", lambda user, client, **_: publish_home(rt, client, user))
    is_staff = ctx.staff.is_staff

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

    @app.action(rb.ACTION_OPEN_LINK)
    def open_link(ack: Ack) -> None:
        ack()  # URL buttons still send an action; Slack only needs the ack

    # --- the modal ------------------------------------------------------------------------------
    @app.view(rb.DRAFT_CALLBACK)
    def submit_draft(ack: Ack, body: dict, view: dict) -> None:
        user = body["user"]["id"]
        meta = _meta(rt, view, user)
        lang = "en" if meta.get("lang") == "en" else "ja"
        fields = normalize_contact(rb.fields_from_state((view.get("state") or {}).get("values") or {}))
        errors = validate(fields, lang=lang, submit=True)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        try:
            _require_storage(rt)
            result = service.save(fields, proposer=user, submit=True, idem_key=meta.get("idem") or f"view:{view['id']}",
                                  record_pk=meta.get("rid"), source=SourceRef(meta.get("ch"), meta.get("ts")),
                                  language=lang)
        except NotAllowed:
            ack(response_action="errors", errors={"org_name": rb.t(lang, "not_allowed")})
            return
        except RecordNotFound:
            ack(response_action="errors", errors={"org_name": rb.t(lang, "not_found")})
            return
        except SQLAlchemyError as exc:
            log.error("records: submission not saved (%s)", type(exc).__name__)
            ack(response_action="errors", errors={"title": rb.t(lang, "db_error")})
            return
        ack(response_action="update", view=rb.submitted_modal(result.record, lang))
        log.info("records: %s %s", result.record.record_id, "replayed" if result.replayed else "submitted")

    @app.action(rb.ACTION_SAVE_DRAFT)
    def save_draft(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        view = body.get("view") or {}
        user = body["user"]["id"]
        meta = _meta(rt, view, user)
        lang = "en" if meta.get("lang") == "en" else "ja"
        fields = normalize_contact(rb.fields_from_state((view.get("state") or {}).get("values") or {}))
        try:
            _require_storage(rt)
            result = service.save(fields, proposer=user, submit=False, idem_key=meta.get("idem") or f"view:{view['id']}",
                                  record_pk=meta.get("rid"), source=SourceRef(meta.get("ch"), meta.get("ts")),
                                  language=lang)
        except (NotAllowed, RecordNotFound) as exc:
            key = "not_allowed" if isinstance(exc, NotAllowed) else "not_found"
            client.views_update(view_id=view["id"], view=rb.info_modal(rb.t(lang, "modal_title"), rb.t(lang, key), lang))
            return
        except SQLAlchemyError as exc:
            log.error("records: draft not saved (%s)", type(exc).__name__)
            client.views_update(view_id=view["id"], view=rb.draft_modal(
                fields, lang=lang, meta=seal_meta(rt, user, meta), notice=":warning: " + rb.t(lang, "db_error")))
            return
        if result.replayed:
            client.views_update(view_id=view["id"], view=rb.info_modal(
                rb.t(lang, "modal_title"), rb.t(lang, "already_submitted", rid=result.record.record_id), lang))
            return
        meta = seal_meta(rt, user, {**meta, "rid": result.record.pk})
        saved_at = utcnow().astimezone(JST).strftime("%H:%M")
        client.views_update(view_id=view["id"], view=rb.draft_modal(
            result.record.fields, lang=lang, meta=meta, notice=rb.t(lang, "draft_saved", time=saved_at)))
        log.info("records: draft #%s saved", result.record.pk)

    @app.action(rb.ACTION_DELETE_DRAFT)
    def delete_draft(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        # Nothing deletable for this user is not an error: the refreshed Home shows what there is.
        with contextlib.suppress(ValueError, NotAllowed, RecordNotFound):
            service.delete(record_pk=int((body.get("actions") or [{}])[0].get("value") or 0), actor=user)
        publish_home(rt, client, user)

    # --- the desk's steps -----------------------------------------------------------------------
    @app.action(re.compile("^" + re.escape(rb.ACTION_STATUS_PREFIX) + r"[a-z_]+$"))
    def status_button(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        action = (body.get("actions") or [{}])[0]
        to_status = action["action_id"][len(rb.ACTION_STATUS_PREFIX):]
        record_id = str(action.get("value") or "")
        if not is_staff(user, client):
            log.warning("records: status button refused for a non-staff user (%s)", record_id)
            _tell(client, body, _REFUSED)
            return
        if to_status in STATUS_NOTE:
            client.views_open(trigger_id=body["trigger_id"],
                              view=rb.status_note_modal(record_id, to_status,
                                                        seal_meta(rt, user, {"rid": record_id, "to": to_status})))
            return
        try:
            _require_storage(rt)
            service.change_status(record_id, to_status, actor=user,
                                  idem_key=f"action:{record_id}:{action.get('action_ts')}")
        except (RecordNotFound, NotAllowed) as exc:
            _tell(client, body, f"{escape(record_id)} のステータスを変更できませんでした（{type(exc).__name__}）。")
        except SQLAlchemyError as exc:
            log.error("records: status change not saved (%s)", type(exc).__name__)
            _tell(client, body, _DB_ERROR_STAFF)

    @app.view(rb.STATUS_NOTE_CALLBACK)
    def status_note(ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        user = body["user"]["id"]
        meta = _meta(rt, view, user)
        if not is_staff(user, client):
            log.warning("records: status note refused for a non-staff user")
            ack(response_action="errors", errors={"note": _REFUSED})
            return
        values = (view.get("state") or {}).get("values") or {}
        note = (((values.get("note") or {}).get(rb.INPUT_ACTION) or {}).get("value") or "").strip()
        if not note:
            ack(response_action="errors", errors={"note": "入力してください。"})
            return
        try:
            _require_storage(rt)
            service.change_status(str(meta.get("rid")), str(meta.get("to")), actor=user, note=note,
                                  idem_key=f"view:{view['id']}")
        except (RecordNotFound, NotAllowed) as exc:
            ack(response_action="errors", errors={"note": f"変更できませんでした（{type(exc).__name__}）。"})
            return
        except SQLAlchemyError as exc:
            log.error("records: status change not saved (%s)", type(exc).__name__)
            ack(response_action="errors", errors={"note": _DB_ERROR_STAFF})
            return
        ack()

    @app.view(rb.INFO_CALLBACK)
    def info_closed(ack: Ack) -> None:
        ack()

    # --- App Home -------------------------------------------------------------------------------
    @app.event("app_home_opened")
    def home_opened(event: dict, client: WebClient) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        publish_home(rt, client, event["user"])

    worker.start()
    log.info("records: registered (desk channel %s)", "set" if ctx.settings.desk_channel_id else "NOT SET")
    return rt


def shutdown_key(key: int) -> None:
    with _LOCK:
        rt = _RUNTIMES.pop(key, None)
    if rt is not None:
        rt.worker.stop(timeout=0.5)
