"""Modal ``private_metadata`` sealed with an HMAC, so what comes back is what the app put there.

A modal's metadata returns in every ``view_submission`` and ``block_actions`` payload; whoever
can make those payloads could otherwise name any record, channel, thread or idempotency key.
:func:`seal` adds ``sig`` (HMAC-SHA256 over the canonical JSON, with the signing secret and the
user the modal was opened for); :func:`unseal` gives the data back only if ``sig`` checks out for
the same user, and ``{}`` otherwise (the caller then trusts nothing from it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from bot.config import Settings

log = logging.getLogger("bot.slack.sealed")

_DOMAIN = b"ppp-desk/private_metadata/v1\0"


def _mac(data: dict[str, Any], user: str, key: str) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    msg = _DOMAIN + user.encode() + b"\0" + canonical.encode()
    return hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()


def seal(data: dict[str, Any], *, user: str, key: str) -> dict[str, Any]:
    """``data`` plus its ``sig`` for ``user`` (JSON-ready; put ``json.dumps`` of it in the view)."""
    clean = {k: v for k, v in data.items() if k != "sig"}
    return {**clean, "sig": _mac(clean, user, key)}


def unseal(raw: str | None, *, user: str, key: str) -> dict[str, Any]:
    """The sealed data for ``user``, without ``sig``; ``{}`` for anything forged, altered or malformed."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("sig"), str):
        return {}
    sig = data.pop("sig")
    return data if hmac.compare_digest(sig, _mac(data, user, key)) else {}


def _key(settings: Settings) -> str:
    """The HMAC key for modal metadata: the signing secret (the bot token in Socket Mode)."""
    return settings.slack_signing_secret or settings.slack_bot_token or ""


def seal_view_meta(settings: Settings, user: str, meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` sealed for ``user`` with this app's key, ready for a view's ``private_metadata``."""
    return seal(meta, user=user, key=_key(settings))


def view_meta(settings: Settings, view: dict[str, Any], user: str) -> dict[str, Any]:
    """The view's metadata if this app sealed it for ``user``; ``{}`` (trust nothing) otherwise."""
    raw = view.get("private_metadata") or ""
    data = unseal(raw, user=user, key=_key(settings))
    if raw and not data:
        log.warning("modal metadata refused (not sealed by this app for this user)")
    return data
