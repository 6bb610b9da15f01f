"""Slack surface of precedent search: ``/ppp-precedents``, paging, the filter modal, desk mentions.

Staff only, decided on the server for every request — the command, each button press and the modal
submission by :func:`bot.slack.staff.staff_only`, each desk-channel mention by
``services.staff.is_staff`` (configured user ids or the staff user group; membership in a shared
channel never counts).  A non-staff user gets a polite refusal (for the slash command in its HTTP
response itself), so nothing is searched on their behalf.  Results for a slash command are
ephemeral (only the asker sees them).
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.precedents import render
from bot.precedents.filters import Filters, merge, parse_query
from bot.precedents.search import SearchPage
from bot.precedents.space import PrecedentSpace
from bot.slack.payload import action_of, channel_of, strip_mentions, user_of
from bot.slack.staff import staff_only
from bot.slack.web import call_api, post_ephemeral, respond_url

if TYPE_CHECKING:
    from bot.slack.services import Services

log = logging.getLogger(__name__)


def _reply(client: WebClient, body: dict[str, Any], text: str, blocks: list[dict] | None = None, *,
           replace: bool = False, response_url: str | None = None, channel: str | None = None,
           thread_ts: str | None = None) -> None:
    """Ephemeral to the person who asked: the response_url first (works in any channel), else
    ``chat.postEphemeral``.  A result that came as a thread message (desk mention) is replaced in place."""
    url = response_url or body.get("response_url")
    if url and respond_url(url, text=text, blocks=blocks, replace=replace):
        return
    user, channel = user_of(body), channel or channel_of(body)
    if user and channel:
        post_ephemeral(client, channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts)


def _results(space: PrecedentSpace, query: str, filters: Filters, offset: int = 0,
             ignored: tuple[str, ...] = ()) -> tuple[str, list[dict] | None]:
    """(fallback text, blocks) of one page; a failure becomes a polite note, never silence."""
    try:
        page: SearchPage = space.page(query, filters, limit=render.PAGE_SIZE, offset=offset)
    except Exception as exc:  # noqa: BLE001 - the person waiting must hear back
        log.exception("precedents: search failed (%s)", type(exc).__name__)
        return render.FAILED, None
    return render.fallback_text(page), render.page_blocks(page, ignored=ignored)


def _modal(space: PrecedentSpace, query: str, filters: Filters, metadata: dict[str, Any]) -> dict:
    """The filter modal; its option lists come from what is indexed (cases and records)."""
    searcher = space.searcher
    profiles = list(searcher.profiles().values())
    records = list(searcher.internal.records().values())
    return render.filter_modal(
        query=query, filters=filters,
        fields=[p.field for p in profiles] + [r.field for r in records if len(r.field) <= 40],
        cities=[p.city for p in profiles] + [r.city for r in records],
        years=[y for y in [p.year for p in profiles] + [r.year for r in records] if y],
        statuses=[r.status for r in records if r.status], metadata=metadata)


def register(app: App, services: Services) -> None:
    """Register the staff precedent listeners and offer desk mentions to the answers feature."""
    space = services.precedents
    services.desk_mention = lambda event, client, say: on_desk_mention(services, event, client, say)
    staff = [staff_only(services.staff, render.REFUSAL, field="q")]

    def ack_only(ack: Ack) -> None:
        ack()

    # --- /ppp-precedents ---------------------------------------------------------------------------
    def run_command(body: dict, client: WebClient) -> None:
        raw = str(body.get("text") or "").strip()
        if raw.lower() in {"help", "ヘルプ", "使い方", "?"}:
            _reply(client, body, render.HELP)
            return
        parsed = parse_query(raw)
        if not raw:
            meta = {"channel": channel_of(body), "response_url": body.get("response_url") or ""}
            opened = body.get("trigger_id") and call_api(client, "views.open", trigger_id=body["trigger_id"],
                                                     view=_modal(space, "", Filters(), meta))
            if not opened:
                _reply(client, body, render.HELP)
            return
        _reply(client, body, *_results(space, parsed.text, parsed.filters, ignored=parsed.ignored))

    app.command("/ppp-precedents", middleware=staff)(ack=ack_only, lazy=[run_command])

    # --- paging ------------------------------------------------------------------------------------
    def turn_page(body: dict, client: WebClient) -> None:
        query, filters, offset = render.parse_page_value(action_of(body).get("value"))
        text, blocks = _results(space, query, filters, offset)
        _reply(client, body, text, blocks, replace=blocks is not None)

    app.action(re.compile(f"^{render.ACTION_PAGE}_"), middleware=staff)(ack=ack_only, lazy=[turn_page])

    # --- the filter modal --------------------------------------------------------------------------
    def open_filters(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        query, filters, _offset = render.parse_page_value(action_of(body).get("value"))
        container = body.get("container") or {}
        meta = {"channel": channel_of(body), "response_url": body.get("response_url") or "",
                "thread_ts": container.get("thread_ts") or ""}
        call_api(client, "views.open", trigger_id=body.get("trigger_id"), view=_modal(space, query, filters, meta))

    app.action(render.ACTION_FILTER, middleware=staff)(open_filters)

    def submit_filters(body: dict, client: WebClient) -> None:
        user = user_of(body)
        view = body.get("view") or {}
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            meta = {}
        keyword, chosen = render.modal_choices((view.get("state") or {}).get("values") or {})
        parsed = parse_query(keyword)
        filters = merge(parsed.filters, chosen)
        text, blocks = _results(space, parsed.text, filters, ignored=parsed.ignored)
        _reply(client, {"user": {"id": user}}, text, blocks,
               response_url=meta.get("response_url") or None, channel=meta.get("channel") or None,
               thread_ts=meta.get("thread_ts") or None)

    app.view(render.MODAL_CALLBACK, middleware=staff)(ack=ack_only, lazy=[submit_filters])


def on_desk_mention(services: Services, event: dict[str, Any], client: WebClient, say: Any) -> bool:
    """A staff mention in the desk channel: results in the thread.  Returns whether it was handled.

    The Slack feature routes here only for staff in the desk channel; both are checked again, so a
    misrouted call can never post internal records where a business can read them.
    """
    user, channel = str(event.get("user") or ""), str(event.get("channel") or "")
    desk = services.settings.desk_channel_id
    if not desk or channel != desk or not services.staff.is_staff(user, client):
        log.warning("precedents: desk_mention outside the desk channel or from non-staff; ignored")
        return False
    thread_ts = event.get("thread_ts") or event.get("ts")
    raw = strip_mentions(str(event.get("text") or ""), None)
    if not raw:
        say(text=render.HELP, thread_ts=thread_ts)
        return True
    parsed = parse_query(raw)
    text, blocks = _results(services.precedents, parsed.text, parsed.filters, ignored=parsed.ignored)
    say(text=text, blocks=blocks, thread_ts=thread_ts)
    return True
