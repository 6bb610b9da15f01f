"""Checks on a raw HTTP request before anything parses it: Slack's signature, then the body's shape.

Bolt verifies the signature too, but only after ``BoltRequest`` has parsed the body, so an unsigned
``{x`` or a broken ``payload=`` raised inside the HTTP handler thread (traceback, no response) and
a non-numeric timestamp became a 500.  These functions are pure (bytes and strings in, a reason
out) so the HTTP edge can answer 401/400 with one log line, and so they are tested directly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any
from urllib.parse import parse_qsl

MAX_SKEW_S = 300  # Slack's five-minute replay window
_TIMESTAMP = re.compile(r"\d{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


def signature_problem(secret: str, raw: bytes, timestamp: str | None, signature: str | None,
                      now: float | None = None) -> str | None:
    """Why the request is not from Slack (``None`` when ``X-Slack-Signature`` checks out).

    Reasons are short codes for the log line (never the body): ``missing``, ``bad_timestamp``,
    ``stale``, ``bad_signature``.
    """
    if not timestamp or not signature:
        return "missing"
    if not _TIMESTAMP.fullmatch(timestamp):
        return "bad_timestamp"
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_SKEW_S:
        return "stale"
    if not _SIGNATURE.fullmatch(signature):
        return "bad_signature"
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, signature) else "bad_signature"


def is_ssl_check(raw: bytes) -> bool:
    """Slack's unsigned-by-design certificate probe (``ssl_check=1``); Bolt answers it with nothing."""
    return raw.startswith(b"ssl_check=") or b"&ssl_check=1" in raw


def has_lone_surrogate(value: Any) -> bool:
    """True if any string in ``value`` holds a lone UTF-16 surrogate (``"\\ud800"`` in JSON).

    Such a string cannot be encoded to UTF-8, so it would fail later in the database or in a Web
    API call; refusing the request up front turns a 500 into a 400.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def body_problem(text: str, content_type: str | None) -> str | None:
    """Why a (signed) body is not a Slack payload we can act on, or ``None``.

    Slack sends JSON (Events API) or a form (commands; interactivity as ``payload=<json object>``).
    """
    ctype = (content_type or "").split(";")[0].strip().lower()
    try:
        if ctype == "application/json" or text.startswith("{"):
            data: Any = json.loads(text) if text else {}
        else:
            form = dict(parse_qsl(text, keep_blank_values=True))
            data = json.loads(form["payload"]) if "payload" in form else form
    except ValueError:
        return "unparsable"
    if not isinstance(data, dict):
        return "not_an_object"
    if has_lone_surrogate(data):
        return "lone_surrogate"
    return None
