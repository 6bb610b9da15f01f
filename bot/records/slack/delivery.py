"""Outbox delivery of the records feature: the desk card, its updates, and what the business is told.

Each handler raises on failure so that the outbox retries it; each is safe to repeat (a card
already posted is not posted again, an update renders the record's state at delivery time).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from sqlalchemy import select

from bot.db import Database
from bot.records import blocks as rb
from bot.records.fields import STAFF_STATUSES
from bot.records.models import OutboxMessage
from bot.records.outbox import Defer, OutboxJob, enqueue
from bot.records.views import RecordView
from bot.slack.kit import section
from bot.slack.texts import t

if TYPE_CHECKING:
    from bot.records.slack.runtime import RecordsRuntime

log = logging.getLogger("bot.records.slack")


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


def render_card(rt: RecordsRuntime, record: RecordView) -> tuple[str, list[dict]]:
    """The desk card for the record's current state, with similar precedents when the space answers."""
    precedents = None
    if rt.precedents is not None and record.record_id:
        try:
            precedents = rt.precedents.similar(f"{record.fields.title}\n{record.fields.summary}", k=3,
                                               exclude_record_id=record.record_id)
        except Exception as exc:  # noqa: BLE001 - the card goes out without the section
            log.warning("records: similar precedents failed (%s)", type(exc).__name__)
    last = None
    history = rt.service.history(record.record_id) if record.record_id else []
    if history and history[-1]["to_status"] in STAFF_STATUSES:
        last = dict(history[-1])
        last["at_label"] = last["at"][:16].replace("T", " ") if last.get("at") else ""
    return rb.desk_card(record, rt.service.flags(record), precedents=precedents or None, last_change=last)


def _deliver_desk_card(rt: RecordsRuntime, job: OutboxJob) -> None:
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


def _deliver_card_update(rt: RecordsRuntime, job: OutboxJob) -> None:
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


def _open_dm(rt: RecordsRuntime, user: str) -> str:
    """The proposer's DM channel with the app (``conversations.open``; Slack returns the same one)."""
    resp = rt.client.conversations_open(users=user)
    return str((resp.get("channel") or {}).get("id") or user)


def _deliver_business(rt: RecordsRuntime, job: OutboxJob) -> None:
    record = rt.service.get(record_pk=job.record_pk)
    lang = record.language
    if job.payload.get("template") == "submitted":
        text, blocks = rb.confirmation_message(record, rt.city, lang, rt.service.titles())
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


def _deliver_privately(rt: RecordsRuntime, job: OutboxJob, record: RecordView, text: str, blocks: list[dict]) -> None:
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


def _deliver_pointer(rt: RecordsRuntime, job: OutboxJob) -> None:
    record = rt.service.get(record_pk=job.record_pk)
    if not record.channel_id or not record.thread_ts:
        return
    text = t(record.language, "private_pointer")
    rt.client.chat_postMessage(channel=record.channel_id, thread_ts=record.thread_ts, text=text,
                               blocks=[section(text)], unfurl_links=False)


HANDLERS = {
    "desk_card": _deliver_desk_card,
    "card_update": _deliver_card_update,
    "business_message": _deliver_business,
    "business_pointer": _deliver_pointer,
}
