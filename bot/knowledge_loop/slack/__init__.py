"""The knowledge loop in Slack: questions logged, gaps in App Home, answers approved, documents added,
the weekly digest.

``register(app, services)`` is called by ``bot.slack.app.build_app`` like every feature package.  It
offers the answer path its question log (``services.questions``) and App Home its staff sections
(``services.home_sections``), and keeps its threads on ``services.knowledge_loop`` (stopped with the
app).  At registration the question log is purged of rows past ``QUESTION_RETENTION_DAYS``; a
background thread does it daily and posts the digest (:mod:`bot.knowledge_loop.slack.digest`).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from bot.knowledge_loop.log import QuestionLog

log = logging.getLogger("bot.knowledge_loop.slack")


class Runtime:
    """What one app's knowledge loop runs: the notices outbox worker and the maintenance thread."""

    def __init__(self, worker: Any, maintenance: Any, qlog: QuestionLog) -> None:
        self.worker, self.maintenance, self.qlog = worker, maintenance, qlog

    def stop(self, timeout: float = 5.0) -> None:
        self.maintenance.stop(timeout)
        self.worker.stop(timeout)


def register(app: App, ctx: Any, *, maintenance_interval_s: float = 60.0) -> Runtime:
    from bot.knowledge_loop.slack import common, digest, files, home, publish
    from bot.knowledge_loop.slack.hooks import LogHooks
    from bot.records.outbox import OutboxWorker

    client = ctx.client or app.client
    qlog = QuestionLog(ctx.db, ctx.settings.question_retention_days)
    ctx.questions = LogHooks(ctx, qlog)

    worker = OutboxWorker(ctx.db, {common.KIND_NOTICE: lambda job: common.deliver_notice(client, job)},
                          poll_s=5.0, base_delay_s=1.0, max_delay_s=60.0)
    publish.register(app, ctx, worker, qlog)
    files.register(app, ctx)
    home.register(app, ctx, qlog)
    maintenance = digest.Maintenance(ctx, qlog, worker, interval_s=maintenance_interval_s)
    try:
        maintenance.purge()  # at start: nothing older than the retention period survives a restart
    except Exception as exc:  # noqa: BLE001 - an unmigrated table is reported by `serve`'s own check
        log.warning("knowledge_loop: retention purge failed (%s)", type(exc).__name__)
    rt = Runtime(worker, maintenance, qlog)
    ctx.knowledge_loop = rt  # stopped with the app (Services.stop)
    worker.start("knowledge-loop-outbox")
    maintenance.start()
    log.info("knowledge_loop: registered (digest %s)", "on" if maintenance.schedule else "off")
    return rt


def runtime(ctx: Any) -> Runtime | None:
    return getattr(ctx, "knowledge_loop", None)
