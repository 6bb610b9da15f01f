"""Who is desk staff — decided on the server, never by the UI or by channel membership.

A user is staff when listed in ``DESK_STAFF_USER_IDS`` or a member of the Slack user group
``DESK_STAFF_USERGROUP_ID`` (looked up with ``usergroups.users.list`` and cached briefly).  Being in
the desk channel is not enough: a Slack Connect channel can hold people from other companies.
Staff-only listeners are registered with :func:`staff_only`, so every feature checks and refuses
the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.slack.logs import kv
from bot.slack.payload import action_of, user_of
from bot.slack.web import tell_user

log = logging.getLogger(__name__)
_CACHE_TTL_S = 60.0


class StaffDirectory:
    """Answers ``is_staff(user_id)``; group membership is cached for a minute."""

    def __init__(self, settings: Settings, client: WebClient | None = None) -> None:
        self.settings = settings
        self.client = client
        self._members: frozenset[str] = frozenset()
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def _group_members(self, client: WebClient | None) -> frozenset[str]:
        group = self.settings.desk_staff_usergroup_id
        client = client or self.client
        if not group or client is None:
            return frozenset()
        with self._lock:
            if time.monotonic() - self._fetched_at < _CACHE_TTL_S:
                return self._members
            try:
                resp = client.usergroups_users_list(usergroup=group)
                self._members = frozenset(resp.get("users") or [])
                self._fetched_at = time.monotonic()
            except SlackApiError as exc:
                # Fail closed: an unreachable directory makes nobody staff via the group.
                log.warning("staff group lookup failed: %s", exc.response.get("error"))
            return self._members

    def is_staff(self, user_id: str | None, client: WebClient | None = None) -> bool:
        if not user_id:
            return False
        if user_id in self.settings.staff_user_ids:
            return True
        return user_id in self._group_members(client)


def staff_only(staff: StaffDirectory, refusal: str, *, field: str = "") -> Callable[..., BoltResponse | None]:
    """Listener middleware: the listener (its ack and its lazy parts) runs only for desk staff.

    Staff-only buttons, shortcuts and modals are shown to staff alone, but a payload can be forged
    or a message with buttons forwarded, so each request is checked here again, on the server.  A
    refusal changes nothing and is answered the same way everywhere: a slash command in its own
    HTTP response, a modal submission as an error under its input ``field``, a click or shortcut
    as a private note (:func:`bot.slack.web.tell_user`).  The log line names the listener, never
    the person.  Use: ``app.action(ID, middleware=[staff_only(services.staff, refusal)])(handler)``.
    """

    def guard(ack: Ack, body: dict[str, Any], client: WebClient, next_: Callable[[], None]) -> BoltResponse | None:
        if staff.is_staff(user_of(body), client):
            next_()
            return None
        kind = str(body.get("type") or ("command" if body.get("command") else ""))
        listener = (body.get("command") or (body.get("view") or {}).get("callback_id") or body.get("callback_id")
                    or action_of(body).get("action_id"))
        log.warning(kv("staff_only_refused", kind=kind, listener=listener))
        if kind == "view_submission":
            return ack(response_action="errors", errors={field: refusal})
        if kind == "command":
            return ack(text=refusal)
        response = ack()
        tell_user(client, body, refusal)
        return response

    return guard
