"""Who is desk staff — decided on the server, never by the UI or by channel membership.

A user is staff when listed in ``DESK_STAFF_USER_IDS`` or a member of the Slack user group
``DESK_STAFF_USERGROUP_ID`` (looked up with ``usergroups.users.list`` and cached briefly).  Being in
the desk channel is not enough: a Slack Connect channel can hold people from other companies.
"""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings

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
