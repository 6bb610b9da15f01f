"""Slack edge of the records feature: the draft modal, the desk's status buttons, App Home, outbox.

``register(app, services)`` is called by ``bot.slack.app.build_app``.  It makes the feature's
runtime (service + outbox worker, :mod:`.runtime`), keeps it on the application object
(``services.records``) and offers the draft modal to the answers feature (``services.open_draft``:
the answer's 「提案の下書きを作成」 button and ``/ppp draft``).  One module a job:

- :mod:`.request` reads every entry point's payload into one draft request;
- :mod:`.prefill` fills the modal from the Slack profile and the conversation;
- :mod:`.drafts` opens the modal, saves drafts and submits;
- :mod:`.desk` handles the staff's status buttons and notes;
- :mod:`.home` publishes the App Home;
- :mod:`.delivery` posts what the outbox holds (desk card, updates, the business's messages).

Log lines carry record numbers, statuses and error codes only — never names, emails or text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.city import CityProfile
from bot.config import Settings
from bot.db import Database
from bot.records import blocks as rb
from bot.records.outbox import OutboxWorker
from bot.records.service import RecordService
from bot.records.slack import delivery, desk, drafts, home
from bot.records.slack.runtime import InBackground, RecordsRuntime

if TYPE_CHECKING:
    from bot.slack.services import Services

log = logging.getLogger("bot.records.slack")


def make_runtime(settings: Settings, db: Database, client: WebClient, city: CityProfile, *,
                 is_staff: Callable[..., bool] | None = None, precedents: Any = None,
                 **worker_kw: Any) -> RecordsRuntime:
    """Service + outbox worker delivering through ``client`` (not started).

    ``precedents`` (a ``PrecedentSpace``) is told about every saved or deleted record, in the
    background, and answers the desk card's similar precedents.  ``worker_kw`` tunes polling and
    backoff.
    """
    listeners = [InBackground(precedents)] if precedents is not None else []
    service = RecordService(db, settings, city=city, listeners=listeners)
    holder: dict[str, RecordsRuntime] = {}
    worker = OutboxWorker(db, {kind: (lambda job, fn=fn: fn(holder["rt"], job))
                               for kind, fn in delivery.HANDLERS.items()}, **worker_kw)
    rt = RecordsRuntime(settings=settings, db=db, city=city, client=client, service=service, worker=worker,
                        is_staff=is_staff, precedents=precedents)
    holder["rt"] = rt
    service.on_queued = worker.kick
    return rt


def register(app: App, services: Services, *, worker_options: dict[str, Any] | None = None) -> RecordsRuntime:
    """Wire the records feature into ``app`` and start its outbox worker (returns the runtime)."""
    rt = make_runtime(services.settings, services.db, services.client or app.client, services.city,
                      is_staff=services.staff.is_staff, precedents=services.precedents,
                      **(worker_options or {}))
    services.records = rt
    services.open_draft = lambda client, body: drafts.open_draft(rt, client, body)
    services.refresh_home = lambda client, user: home.publish_home(rt, client, user)
    rt.home_sections = lambda user, client: services.home_sections(user, client) if services.home_sections else []
    drafts.register(app, rt)
    desk.register(app, rt, services.staff)
    home.register(app, rt)

    @app.view(rb.INFO_CALLBACK)
    def info_closed(ack: Ack) -> None:
        ack()

    @app.action(rb.ACTION_OPEN_LINK)
    def open_link(ack: Ack) -> None:
        ack()  # URL buttons still send an action; Slack only needs the ack

    rt.worker.start()
    log.info("records: registered (desk channel %s)", "set" if services.settings.desk_channel_id else "NOT SET")
    return rt


__all__ = ["RecordsRuntime", "make_runtime", "register"]
