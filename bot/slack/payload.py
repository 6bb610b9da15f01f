"""Reading what Slack sends: who and where a payload is from, its action, its button value, its event.

Button values and modal metadata come back from clients, so anything malformed reads as empty;
the user and channel come from Slack's own envelope.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Message subtypes that are still a person writing to us; every other subtype (edits, deletions,
# joins, bot posts) is ignored.
_USER_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def user_of(body: dict[str, Any]) -> str:
    """The user who pressed, typed or submitted (interactivity or slash command)."""
    return str((body.get("user") or {}).get("id") or body.get("user_id") or "")


def channel_of(body: dict[str, Any]) -> str:
    """The channel the payload came from ("" for a modal or the App Home)."""
    container = body.get("container") or {}
    return str((body.get("channel") or {}).get("id") or container.get("channel_id") or body.get("channel_id") or "")


def action_of(body: dict[str, Any]) -> dict[str, Any]:
    """The pressed element of a ``block_actions`` payload (``{}`` when there is none)."""
    return (body.get("actions") or [{}])[0] or {}


def parse_value(raw: str | None) -> dict[str, Any]:
    """A JSON button value back into a dict (``{}`` for anything malformed: values come from clients)."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def is_user_dm(event: dict[str, Any]) -> bool:
    """A direct message a person wrote to us: not a bot, not an edit/deletion, not a system message."""
    return (event.get("type") == "message" and event.get("channel_type") == "im"
            and event.get("subtype") in _USER_SUBTYPES and not event.get("bot_id")
            and bool(event.get("user")) and not event.get("hidden"))


def strip_mentions(text: str, bot_user_id: str | None) -> str:
    """The text without mentions of the bot (``None``: without any mention; other people's stay)."""
    def repl(m: re.Match[str]) -> str:
        return "" if bot_user_id is None or m.group(1) == bot_user_id else m.group(0)

    return re.sub(r"\s+", " ", _MENTION.sub(repl, text or "")).strip()
