"""The answer's buttons: 👍/👎, a source's quote, the full answer, the draft proposal, the hand-off.

Each button names the stored turn it belongs to (``{"turn": ref}``); what the turn said is read
from the database, never from the client's payload.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.slack import blocks as bk
from bot.slack.answers.handoff import hand_off
from bot.slack.answers.messages import open_draft
from bot.slack.history import get_turn
from bot.slack.logs import kv
from bot.slack.models import Feedback
from bot.slack.payload import action_of, parse_value, user_of
from bot.slack.services import Services
from bot.slack.texts import t
from bot.slack.web import call_api, tell_user

log = logging.getLogger("bot.slack.listeners")


def _noop_ack(ack: Ack) -> None:
    ack()


def register(app: App, ctx: Services) -> None:
    """The buttons under every answer."""
    def _turn_for(body: dict) -> tuple[dict, Any]:
        data = parse_value(action_of(body).get("value"))
        return data, get_turn(ctx.db, data.get("turn"))

    def _feedback(body: dict, client: WebClient, rating: int) -> None:
        _, turn = _turn_for(body)
        if turn is None:
            tell_user(client, body, t("ja", "not_found"))
            return
        user = user_of(body)
        for _attempt in range(2):  # a concurrent double click may race the insert once
            try:
                with ctx.db.session() as session:
                    row = session.scalars(select(Feedback).where(Feedback.turn_id == turn.id,
                                                                 Feedback.user == user)).first()
                    if row is None:
                        session.add(Feedback(turn_id=turn.id, user=user, rating=rating, question=turn.question,
                                             answer=turn.answer, category=turn.category))
                    else:
                        row.rating = rating
                break
            except IntegrityError:
                continue
        log.info(kv("feedback_stored", rating=rating, category=turn.category))
        tell_user(client, body, t(turn.language, "thanks_feedback_up" if rating > 0 else "thanks_feedback_down"))
        if ctx.questions is not None:
            ctx.questions.answer_feedback(turn.ref, rating)

    def feedback_up(body: dict, client: WebClient) -> None:
        _feedback(body, client, 1)

    def feedback_down(body: dict, client: WebClient) -> None:
        _feedback(body, client, -1)

    app.action("feedback_up")(ack=_noop_ack, lazy=[feedback_up])
    app.action("feedback_down")(ack=_noop_ack, lazy=[feedback_down])

    def show_quote(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        data, turn = _turn_for(body)
        index = data.get("i")
        if turn is None or not isinstance(index, int) or not 0 <= index < len(turn.sources):
            tell_user(client, body, t("ja", "not_found"))
            return
        src = turn.sources[index]
        label = src.get("title", "") + (f" › {src['section']}" if src.get("section") else "")
        label += f", p. {src['page']}" if src.get("page") else ""
        call_api(client, "views.open", trigger_id=body.get("trigger_id"),
                 view=bk.quote_modal(label, src.get("text", ""), turn.language))

    app.action(re.compile(r"^show_quote_\d+$"))(show_quote)

    def show_full_answer(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        _, turn = _turn_for(body)
        if turn is None:
            tell_user(client, body, t("ja", "not_found"))
            return
        call_api(client, "views.open", trigger_id=body.get("trigger_id"),
                 view=bk.full_answer_modal(turn.answer, turn.language))

    app.action("show_full_answer")(show_full_answer)

    def draft_proposal(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        data, _ = _turn_for(body)
        open_draft(ctx, body, client, "en" if data.get("language") == "en" else "ja")

    app.action("draft_proposal")(draft_proposal)

    def handoff(body: dict, client: WebClient) -> None:
        hand_off(ctx, client, body)

    app.action("handoff")(ack=_noop_ack, lazy=[handoff])
