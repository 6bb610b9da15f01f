"""App Home for staff: the gaps to answer, the approved answers to withdraw, the Slack-added documents.

The records feature renders App Home; it asks ``home_sections`` for these blocks and appends them
(the only hook into its view).  Without the records feature this module publishes them alone.
Non-staff get nothing from here: the blocks hold masked questions, still internal data.
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.db import JST
from bot.knowledge_loop.desk_answers import DeskAnswers
from bot.knowledge_loop.documents import in_store
from bot.knowledge_loop.gaps import GAP_SAMPLE, group
from bot.knowledge_loop.log import QuestionLog
from bot.knowledge_loop.slack import common
from bot.knowledge_loop.slack.files import ACTION_REMOVE
from bot.knowledge_loop.slack.publish import ACTION_GAP, ACTION_WITHDRAW
from bot.knowledge_loop.slack.texts import s
from bot.slack import kit
from bot.slack.kit import button, escape, section, truncate
from bot.slack.web import call_api

log = logging.getLogger("bot.knowledge_loop.slack")
MAX_GAPS = 10
MAX_ANSWERS = 10
MAX_FILES = 8


def staff_blocks(ctx: Any, qlog: QuestionLog) -> list[dict[str, Any]]:
    """Gaps (grouped by meaning, largest and newest first), approved answers, Slack-added documents."""
    blocks: list[dict[str, Any]] = [kit.divider(), kit.header(s("home_gaps")), kit.context(s("home_gaps_note"))]
    gaps = group(qlog.misses(limit=GAP_SAMPLE), limit=MAX_GAPS)
    for gap in gaps:
        newest = gap.newest if gap.newest.tzinfo else gap.newest.replace(tzinfo=UTC)
        blocks.append(section(s("home_gap_line", count=gap.count, newest=newest.astimezone(JST).strftime("%Y-%m-%d %H:%M"),
                                question=escape(truncate(gap.example, 280))),
                              accessory=button(s("answer_gap"), ACTION_GAP, str(gap.ids[0]), style="primary")))
    if not gaps:
        blocks.append(section(s("home_gaps_none")))

    blocks.append(kit.header(s("home_answers")))
    active = DeskAnswers(ctx.db, ctx.settings).active()
    for row in list(reversed(active))[:MAX_ANSWERS]:
        blocks.append(section(
            s("home_answer_line", answer_id=row.answer_id, date=row.approved_at.date().isoformat(),
              approver=row.approver, question=escape(truncate(row.question, 280))),
            accessory=button(s("withdraw"), ACTION_WITHDRAW, row.answer_id,
                             confirm=kit.confirm(s("withdraw_confirm_title"), s("withdraw_confirm", answer_id=row.answer_id),
                                                 s("yes"), s("cancel"), style="danger"))))
    if not active:
        blocks.append(section(s("home_answers_none")))

    blocks.append(kit.header(s("home_files")))
    docs = in_store(common.public_store(ctx))
    for doc in docs[:MAX_FILES]:
        blocks.append(section(
            s("home_file_line", title=escape(doc.title), chunks=len(doc.chunk_ids), date=doc.ingested_at[:10]),
            accessory=button(s("remove"), ACTION_REMOVE, doc.doc_id,
                             confirm=kit.confirm(s("remove_confirm_title"), s("remove_confirm", title=doc.title),
                                                 s("yes"), s("cancel"), style="danger"))))
    if not docs:
        blocks.append(section(s("home_files_none")))
    return blocks


def register(app: App, ctx: Any, qlog: QuestionLog) -> None:
    def home_sections(user: str, client: WebClient | None = None, **_: Any) -> list[dict[str, Any]]:
        if not ctx.staff.is_staff(user, client):  # checked here again, whatever the caller decided
            return []
        try:
            return staff_blocks(ctx, qlog)
        except Exception as exc:  # noqa: BLE001 - the rest of App Home still renders
            log.exception("knowledge_loop: home sections failed (%s)", type(exc).__name__)
            return []

    ctx.home_sections = home_sections
    if ctx.refresh_home is None:  # no records feature: App Home is ours alone
        def publish_alone(client: WebClient, user: str) -> None:
            call_api(client, "views.publish", user_id=user, view=kit.home(home_sections(user, client)[:100]))

        ctx.refresh_home = publish_alone

    # Reached only when no other feature renders App Home (Bolt runs the first matching listener).
    @app.event("app_home_opened")
    def home_opened(event: dict, client: WebClient) -> None:
        if event.get("tab", "home") == "home" and event.get("user"):
            ctx.refresh_home(client, event["user"])
