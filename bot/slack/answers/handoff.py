"""「担当者に相談する」: the conversation goes to the desk channel with the asker tagged, once."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.exc import IntegrityError

from bot.slack import blocks as bk
from bot.slack.history import get_turn, thread_turns
from bot.slack.logs import kv
from bot.slack.models import Handoff
from bot.slack.payload import action_of, parse_value
from bot.slack.services import Services
from bot.slack.texts import t
from bot.slack.web import call_api, tell_user

log = logging.getLogger("bot.slack.listeners")


def hand_off(ctx: Services, client: WebClient, body: dict[str, Any]) -> None:
    """「担当者に相談する」: post the thread to the desk channel with the asker tagged, then confirm."""
    turn = get_turn(ctx.db, parse_value(action_of(body).get("value")).get("turn"))
    if turn is None:
        tell_user(client, body, t("ja", "not_found"))
        return
    lang, contact = turn.language, ctx.city.desk.contact_line(turn.language)
    desk = ctx.settings.desk_channel_id
    if not desk:
        tell_user(client, body, t(lang, "handoff_unavailable", contact=contact))
        return
    asker = (body.get("user") or {}).get("id") or turn.user
    try:
        with ctx.db.session() as session:
            row = Handoff(turn_id=turn.id, channel=turn.channel, thread_ts=turn.thread_ts, asker=asker,
                          desk_channel=desk)
            session.add(row)
            session.flush()
            handoff_id = row.id
    except IntegrityError:
        tell_user(client, body, t(lang, "handoff_already"))
        return

    turns = thread_turns(ctx.db, turn.channel, turn.thread_ts) or [turn]
    permalink = None
    if turn.thread_ts and not turn.channel.startswith("D"):
        link = call_api(client, "chat.getPermalink", channel=turn.channel, message_ts=turn.thread_ts)
        permalink = (link or {}).get("permalink")
    buttons = ctx.handoff_actions(handoff_id) if ctx.handoff_actions is not None else []
    posted = call_api(client, "chat.postMessage", channel=desk,
                      text=f"<@{asker}> さんから担当者への相談依頼です",
                      blocks=bk.handoff_blocks(asker=asker, turns=turns, channel=turn.channel, permalink=permalink,
                                               buttons=buttons),
                      unfurl_links=False)
    with ctx.db.session() as session:
        row = session.get(Handoff, handoff_id)
        if posted is None:
            session.delete(row)  # let the asker try again
        else:
            row.desk_ts = posted.get("ts")
    if posted is None:
        tell_user(client, body, t(lang, "handoff_failed", contact=contact))
        return
    log.info(kv("handoff_posted", turns=len(turns)))
    if ctx.questions is not None:
        ctx.questions.handed_off(turn.ref)
    if turn.thread_ts:
        call_api(client, "chat.postMessage", channel=turn.channel, thread_ts=turn.thread_ts,
                 text=t(lang, "handoff_sent"))
    else:
        tell_user(client, body, t(lang, "handoff_sent"))
