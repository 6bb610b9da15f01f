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
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App

from bot.records import blocks as rb
from bot.records.slack import desk, drafts, home
from bot.records.slack.runtime import RecordsRuntime, make_runtime

if TYPE_CHECKING:
    from bot.slack.services import Services

log = logging.getLogger("bot.records.slack")


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
