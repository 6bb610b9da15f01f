"""The desk's steps on a card: status buttons and the note a step needs (department, reason, request).

Every click and every submission is checked against the staff directory on the server
(:func:`bot.slack.staff.staff_only`); a refused click changes nothing.  Replies in the card's thread are staff notes: nothing here listens to them,
so nothing can forward them to a business.
"""

from __future__ import annotations

import logging
import re

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.records import blocks as rb
from bot.records.fields import STATUS_NOTE
from bot.records.slack.runtime import RecordsRuntime
from bot.records.views import NotAllowed, RecordNotFound
from bot.slack.escape import escape
from bot.slack.sealed import seal_view_meta, view_meta
from bot.slack.staff import StaffDirectory, staff_only
from bot.slack.texts import t
from bot.slack.web import tell_user

log = logging.getLogger("bot.records.slack")


def register(app: App, rt: RecordsRuntime, staff: StaffDirectory) -> None:
    """The status buttons and the status-note modal, for staff only."""
    refusal = t("ja", "staff_only_status")

    # --- the desk's steps -----------------------------------------------------------------------
    @app.action(re.compile("^" + re.escape(rb.ACTION_STATUS_PREFIX) + r"[a-z_]+$"),
                middleware=[staff_only(staff, refusal)])
    def status_button(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        action = (body.get("actions") or [{}])[0]
        to_status = action["action_id"][len(rb.ACTION_STATUS_PREFIX):]
        record_id = str(action.get("value") or "")
        if to_status in STATUS_NOTE:
            client.views_open(trigger_id=body["trigger_id"],
                              view=rb.status_note_modal(record_id, to_status,
                                                        seal_view_meta(rt.settings, user, {"rid": record_id, "to": to_status})))
            return
        try:
            rt.db.require_storage()
            rt.service.change_status(record_id, to_status, actor=user,
                                  idem_key=f"action:{record_id}:{action.get('action_ts')}")
        except (RecordNotFound, NotAllowed) as exc:
            tell_user(client, body, f"{escape(record_id)} のステータスを変更できませんでした（{type(exc).__name__}）。")
        except SQLAlchemyError as exc:
            log.error("records: status change not saved (%s)", type(exc).__name__)
            tell_user(client, body, t("ja", "db_error_staff"))

    @app.view(rb.STATUS_NOTE_CALLBACK, middleware=[staff_only(staff, refusal, field="note")])
    def status_note(ack: Ack, body: dict, view: dict) -> None:
        user = body["user"]["id"]
        meta = view_meta(rt.settings, view, user)
        values = (view.get("state") or {}).get("values") or {}
        note = (((values.get("note") or {}).get(rb.INPUT_ACTION) or {}).get("value") or "").strip()
        if not note:
            ack(response_action="errors", errors={"note": "入力してください。"})
            return
        try:
            rt.db.require_storage()
            rt.service.change_status(str(meta.get("rid")), str(meta.get("to")), actor=user, note=note,
                                  idem_key=f"view:{view['id']}")
        except (RecordNotFound, NotAllowed) as exc:
            ack(response_action="errors", errors={"note": f"変更できませんでした（{type(exc).__name__}）。"})
            return
        except SQLAlchemyError as exc:
            log.error("records: status change not saved (%s)", type(exc).__name__)
            ack(response_action="errors", errors={"note": t("ja", "db_error_staff")})
            return
        ack()
