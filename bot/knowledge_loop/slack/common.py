"""What every part of the knowledge loop's Slack surface shares: the one-message modal, the shared
store, engine reloads, and the notices outbox (staff checks: ``bot.slack.staff.staff_only``; sealed
modal metadata: ``bot.slack.sealed``).

Only ``settings``, ``db``, ``engine``, ``city``, ``staff`` and ``client`` of the app context are used,
so the feature keeps working when the context object is reshaped around it.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.exc import IntegrityError

from bot.knowledge_loop.slack.texts import s
from bot.records.outbox import OutboxJob, OutboxWorker, enqueue
from bot.slack import kit
from bot.slack.web import call_api
from ingest.store import ChunkStore

log = logging.getLogger("bot.knowledge_loop.slack")

KIND_NOTICE = "loop_notice"  # a chat.postMessage the loop must not lose (business told, weekly digest)


INFO = "loop_info"  # the callback of our one-message modals (loading, done, failed)


def info_view(title: str, text: str) -> dict[str, Any]:
    """A modal that only says something (a step of a longer flow, or its outcome)."""
    return kit.modal(INFO, title, [kit.section(text)], close=s("close"))


def say_in_modal(client: WebClient, view_id: str | None, title: str, text: str) -> None:
    """Replace an open modal with a message: the next step of a flow, or how it ended."""
    call_api(client, "views.update", view_id=view_id, view=info_view(title, text))


def public_store(ctx: Any) -> ChunkStore:
    """The running engine's own store when it has one (one Chroma client per process), else a new one."""
    store = getattr(getattr(ctx.engine, "index", None), "store", None)
    return store if isinstance(store, ChunkStore) else ChunkStore(ctx.settings)


def reload_engine(ctx: Any) -> None:
    """Make the answering engine see a change to the public store now (other processes: within seconds).

    Run on the engine's own thread when we know it, so a reload never races an answer in flight.
    """
    reload = getattr(ctx.engine, "reload", None)
    if reload is None:
        return
    pool = getattr(ctx, "answer_pool", None)
    try:
        if pool is not None:
            pool.submit(reload).result(timeout=120)
        else:
            reload()
    except Exception as exc:  # noqa: BLE001 - the engine's periodic manifest check still picks it up
        log.warning("knowledge_loop: engine reload failed (%s)", type(exc).__name__)


def deliver_notice(client: WebClient, job: OutboxJob) -> None:
    """Outbox handler: one chat.postMessage (raises on failure, so the outbox retries it)."""
    client.chat_postMessage(**job.payload["args"])


def queue_notice(db: Any, worker: OutboxWorker, key: str, args: dict[str, Any]) -> bool:
    """Queue a post once ever under ``key`` (several workers agree through the database), then send it.

    Returns whether this call queued it (``False``: another process or an earlier run already did).
    """
    try:
        with db.session() as s:
            queued = enqueue(s, KIND_NOTICE, None, {"args": args}, dedupe_key=key)
    except IntegrityError:  # a concurrent worker inserted the same key first
        return False
    if queued and not worker.deliver_now(key):
        worker.kick()
    return queued
