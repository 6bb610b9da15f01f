"""Outbox handlers that put answers in front of the asker (kinds ``answer_post``, ``answer_ephemeral``).

Each handler raises on any failure, so the outbox retries it (backoff, ``Retry-After``) until Slack
takes it.  Slack's ``chat.postMessage`` has no idempotency key, so every reply carries message
metadata naming its question; an attempt that may already have reached Slack (a lease that ran
out, a 5xx after sending) first looks for that metadata in the thread and does not post twice.
Looking needs the history scope of the conversation (``im:history`` for DMs, which the manifest
asks for); where Slack refuses to show the thread, the reply is posted (at-least-once).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient
from sqlalchemy.exc import SQLAlchemyError

from bot.db import Database, utcnow
from bot.records.outbox import OutboxJob
from bot.slack.history import set_answer_ts
from bot.slack.logs import error_code, kv, retry_handlers

log = logging.getLogger("bot.slack.delivery")

KIND_POST = "answer_post"
KIND_EPHEMERAL = "answer_ephemeral"
METADATA_TYPE = "ppp_desk_reply"
# A response_url takes replies for 30 minutes; after that only chat.postEphemeral could reach the
# asker, and where that is refused too the reply cannot be delivered by anyone.
RESPONSE_URL_LIFETIME = timedelta(minutes=30)


def marker(question_id: int) -> dict[str, Any]:
    """The message metadata that lets a retry recognise its own earlier post."""
    return {"event_type": METADATA_TYPE, "event_payload": {"question": str(question_id)}}


def _is_transient(exc: SlackApiError) -> bool:
    """A 429/5xx (Slack busy or down): try again later.  ``ok: false`` errors are Slack's answer."""
    status = getattr(exc.response, "status_code", 200)
    return status == 429 or status >= 500


def find_earlier_post(client: WebClient, *, channel: str, thread_ts: str, oldest: str,
                      question_id: int) -> str | None:
    """The ts of our reply to ``question_id`` if Slack already has it; ``None`` if not (or unknowable).

    Raises while Slack is unreachable or failing: posting then would fail anyway, and posting
    blind after it recovers could repeat the answer.
    """
    if not thread_ts:
        return None
    want = marker(question_id)
    try:
        resp = client.conversations_replies(channel=channel, ts=thread_ts, oldest=oldest or None, inclusive=True,
                                            include_all_metadata=True, limit=200)
    except SlackApiError as exc:
        if _is_transient(exc):
            raise
        log.info(kv("answer_check_unavailable", error=error_code(exc.response.get("error"))))
        return None
    for msg in resp.get("messages") or []:
        meta = msg.get("metadata") or {}
        if (meta.get("event_type") == want["event_type"]
                and (meta.get("event_payload") or {}).get("question") == want["event_payload"]["question"]):
            return msg.get("ts")
    return None


def deliver_post(client: WebClient, db: Database, job: OutboxJob) -> None:
    """``chat.postMessage`` of one answer (or help, or apology) in the asker's thread."""
    p = job.payload
    args: dict[str, Any] = dict(p["args"])
    qid = int(p["question"])
    if job.resumed:
        ts = find_earlier_post(client, channel=args["channel"], thread_ts=args.get("thread_ts") or "",
                               oldest=p.get("oldest") or "", question_id=qid)
        if ts:
            log.info(kv("answer_already_posted", question=qid, attempts=job.attempts))
            _remember(db, p.get("ref"), ts)
            return
    resp = client.chat_postMessage(**args, metadata=marker(qid))
    _remember(db, p.get("ref"), resp.get("ts"))
    log.info(kv("answer_delivered", question=qid, surface=p.get("surface"), attempts=job.attempts + 1))


def _remember(db: Database, ref: str | None, ts: str | None) -> None:
    if not ref:
        return
    try:
        set_answer_ts(db, ref, ts)
    except SQLAlchemyError as exc:  # the asker has the answer; only its ts is not noted
        log.warning(kv("storage_failed", step="answer_ts", error=type(exc).__name__))


class Undeliverable(Exception):  # noqa: N818 - a reason, raised to the outbox for retrying
    """Neither the response_url nor ``chat.postEphemeral`` took the reply."""


def deliver_ephemeral(client: WebClient, job: OutboxJob) -> None:
    """A ``/ppp`` answer, privately: the response_url first, then ``chat.postEphemeral``."""
    p = job.payload
    text, blocks = p["text"], p.get("blocks")
    url = p.get("response_url")
    if url:
        try:
            resp = WebhookClient(url, retry_handlers=retry_handlers()).send(
                text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
            if resp.status_code == 200:
                return
            problem = f"response_url {resp.status_code}"
        except Exception as exc:  # noqa: BLE001 - connection errors: try the other way, then retry
            problem = f"response_url {type(exc).__name__}"
    else:
        problem = "no response_url"
    if p.get("channel") and p.get("user"):
        kwargs: dict[str, Any] = {"channel": p["channel"], "user": p["user"], "text": text}
        if blocks:
            kwargs["blocks"] = blocks
        try:
            client.chat_postEphemeral(**kwargs)
            return
        except SlackApiError as exc:
            if _is_transient(exc):
                raise
            problem += f", postEphemeral {error_code(exc.response.get('error'))}"
    queued = datetime.fromisoformat(p["queued_at"]) if p.get("queued_at") else utcnow()
    if utcnow() - queued > RESPONSE_URL_LIFETIME:
        log.error(kv("answer_undeliverable", question=p.get("question"), reason=problem))
        return  # nobody can deliver it any more; retrying forever would only fill the log
    raise Undeliverable(problem)
