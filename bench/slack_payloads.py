"""Slack's side of a request, for the tests and the benchmarks: signing, payloads, a sender.

- :func:`sign` computes ``X-Slack-Signature`` exactly as Slack does (``v0=`` + HMAC-SHA256 of
  ``v0:{timestamp}:{body}`` with the signing secret).
- Payload builders for the Events API (``event_callback`` around ``message.im``, ``app_mention``,
  ``assistant_thread_started``), slash commands (form-encoded) and interactivity (``payload=``).
- :class:`SlackSender` posts them to a running app over HTTP.

No pytest here: ``bench/`` runs without the dev extras.  ``tests/slack_helpers.py`` adds the
fixtures.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bench.slack_stub import APP_ID, BOT_USER_ID, TEAM_ID

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # a test value, not a real secret
BOT_TOKEN = "xoxb-0000-test"
APP_TOKEN = "xapp-1-test"
DESK_CHANNEL = "CDESK0001"
ASKER = "UASKER001"

_ids = itertools.count(1)


def new_ts() -> str:
    """A fresh, increasing Slack message ts."""
    n = next(_ids)
    return f"{1_710_000_000 + n}.{n:06d}"


def new_event_id() -> str:
    return f"Ev{next(_ids):010d}"


def new_trigger_id() -> str:
    return f"{next(_ids)}.{next(_ids)}.trigger"


# --- signing ----------------------------------------------------------------------------------------


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Slack sends with every request."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


# --- payload builders (Slack's real shapes) ----------------------------------------------------------


def message_im(text: str, *, user: str = ASKER, channel: str = "D0ASKER01", ts: str | None = None,
               thread_ts: str | None = None, **extra: Any) -> dict[str, Any]:
    """A ``message.im`` event (a person writing to the bot in its DM)."""
    event: dict[str, Any] = {"type": "message", "channel_type": "im", "channel": channel, "user": user,
                             "text": text, "ts": ts or new_ts(), "team": TEAM_ID,
                             "client_msg_id": f"{next(_ids):08d}-0000-0000-0000-000000000000",
                             "blocks": [{"type": "rich_text", "block_id": "b1", "elements": [
                                 {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}]}
    if thread_ts:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = user
    event.update(extra)
    return event


def app_mention(text: str, *, user: str = ASKER, channel: str = "C0PUBLIC1", ts: str | None = None,
                thread_ts: str | None = None, bot_user_id: str = BOT_USER_ID) -> dict[str, Any]:
    """An ``app_mention`` event; ``text`` follows the ``<@bot>`` mention as in Slack."""
    event: dict[str, Any] = {"type": "app_mention", "channel": channel, "user": user,
                             "text": f"<@{bot_user_id}> {text}".rstrip(), "ts": ts or new_ts(), "team": TEAM_ID,
                             "event_ts": ts or new_ts()}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def assistant_thread_started(*, user: str = ASKER, channel: str = "D0ASKER01",
                             thread_ts: str | None = None) -> dict[str, Any]:
    """The event Slack sends when someone opens the Assistant container."""
    return {"type": "assistant_thread_started", "event_ts": new_ts(),
            "assistant_thread": {"user_id": user, "context": {"channel_id": "C0PUBLIC1", "team_id": TEAM_ID,
                                                              "enterprise_id": None},
                                 "channel_id": channel, "thread_ts": thread_ts or new_ts()}}


def event_callback(event: dict[str, Any], *, event_id: str | None = None,
                   event_time: int | None = None) -> dict[str, Any]:
    """The Events API envelope around one event."""
    return {"token": "legacy-verification-token", "team_id": TEAM_ID, "context_team_id": TEAM_ID,
            "api_app_id": APP_ID, "event": event, "type": "event_callback",
            "event_id": event_id or new_event_id(), "event_time": event_time or int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False, "event_context": f"4-{next(_ids)}"}


def slash_command(command: str, text: str, *, user: str = ASKER, channel: str = "C0PUBLIC1",
                  response_url: str = "", trigger_id: str | None = None) -> dict[str, str]:
    """The form fields of a slash command request."""
    return {"token": "legacy-verification-token", "team_id": TEAM_ID, "team_domain": "ppp-test",
            "channel_id": channel, "channel_name": "general", "user_id": user, "user_name": user.lower(),
            "command": command, "text": text, "api_app_id": APP_ID, "is_enterprise_install": "false",
            "response_url": response_url, "trigger_id": trigger_id or new_trigger_id()}


def slack_command_payload(command: str, text: str, **kw: Any) -> dict[str, Any]:
    """A slash command as Socket Mode delivers it (the same fields, as JSON)."""
    return dict(slash_command(command, text, **kw))


def find_button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    """The button element with ``action_id`` in posted blocks (actions or section accessories)."""
    for block in blocks:
        for el in block.get("elements", []) + ([block["accessory"]] if "accessory" in block else []):
            if el.get("action_id") == action_id:
                return {**el, "block_id": block.get("block_id", "")}
    raise KeyError(f"no button {action_id!r} in blocks")


def block_actions(action_id: str, *, value: str = "", user: str = ASKER, channel: str = "D0ASKER01",
                  message_ts: str | None = None, thread_ts: str | None = None, response_url: str = "",
                  is_ephemeral: bool = False, block_id: str = "answer_actions",
                  message: dict[str, Any] | None = None, trigger_id: str | None = None) -> dict[str, Any]:
    """A ``block_actions`` payload for one button press."""
    message_ts = message_ts or new_ts()
    container: dict[str, Any] = {"type": "message", "message_ts": message_ts, "channel_id": channel,
                                 "is_ephemeral": is_ephemeral}
    if thread_ts:
        container["thread_ts"] = thread_ts
    payload: dict[str, Any] = {
        "type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID, "token": "legacy-verification-token", "container": container,
        "trigger_id": trigger_id or new_trigger_id(), "team": {"id": TEAM_ID, "domain": "ppp-test"},
        "channel": {"id": channel, "name": "directmessage" if channel.startswith("D") else "general"},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": block_id, "type": "button", "value": value,
                     "text": {"type": "plain_text", "text": action_id}, "action_ts": str(time.time())}],
        "state": {"values": {}},
    }
    if not is_ephemeral:
        payload["message"] = message or {"type": "message", "ts": message_ts, "thread_ts": thread_ts,
                                         "user": BOT_USER_ID, "bot_id": "BBOT", "text": ""}
    return payload


def press(call_blocks: list[dict[str, Any]], action_id: str, **kw: Any) -> dict[str, Any]:
    """The payload of pressing the button ``action_id`` found in posted blocks."""
    btn = find_button(call_blocks, action_id)
    return block_actions(action_id, value=btn.get("value", ""), block_id=btn["block_id"], **kw)


def message_shortcut(callback_id: str, message: dict[str, Any], *, user: str = ASKER,
                     channel: str = "C0PUBLIC1", response_url: str = "") -> dict[str, Any]:
    """A message shortcut (``…`` menu on a message) payload."""
    return {"type": "message_action", "callback_id": callback_id, "trigger_id": new_trigger_id(),
            "user": {"id": user, "name": user.lower()}, "team": {"id": TEAM_ID, "domain": "ppp-test"},
            "channel": {"id": channel, "name": "general"}, "message": message, "message_ts": message.get("ts"),
            "response_url": response_url, "token": "legacy-verification-token", "action_ts": str(time.time())}


def view_submission(callback_id: str, values: dict[str, Any], *, user: str = ASKER,
                    private_metadata: str = "") -> dict[str, Any]:
    """A modal's ``view_submission`` payload (``values``: block_id → action_id → element state)."""
    return {"type": "view_submission", "team": {"id": TEAM_ID, "domain": "ppp-test"},
            "user": {"id": user, "name": user.lower(), "team_id": TEAM_ID}, "api_app_id": APP_ID,
            "token": "legacy-verification-token", "trigger_id": new_trigger_id(),
            "view": {"id": f"V{next(_ids):09d}", "type": "modal", "callback_id": callback_id,
                     "private_metadata": private_metadata, "state": {"values": values},
                     "hash": "h", "title": {"type": "plain_text", "text": "t"}}}


def view_closed(callback_id: str, *, user: str = ASKER, private_metadata: str = "") -> dict[str, Any]:
    """A modal's ``view_closed`` payload (sent when the view asked for ``notify_on_close``)."""
    payload = view_submission(callback_id, {}, user=user, private_metadata=private_metadata)
    payload.pop("trigger_id")
    return {**payload, "type": "view_closed", "is_cleared": False}


# --- sending -------------------------------------------------------------------------------------------


@dataclass
class Sent:
    """What the app answered: status, body, headers, and how long the answer took (the ack)."""

    status: int
    body: str
    headers: dict[str, str]
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


class SlackSender:
    """Posts signed requests to ``{base_url}/slack/events`` like Slack does."""

    def __init__(self, base_url: str, secret: str = SIGNING_SECRET, path: str = "/slack/events") -> None:
        self.base_url, self.secret, self.path = base_url.rstrip("/"), secret, path

    def post(self, body: str, content_type: str, *, headers: dict[str, str] | None = None,
             signed: bool = True, timestamp: int | None = None, secret: str | None = None) -> Sent:
        hdrs = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        if signed:
            hdrs.update(sign(body, secret=secret or self.secret, timestamp=timestamp))
        hdrs.update(headers or {})
        req = urllib.request.Request(self.base_url + self.path, data=body.encode(), headers=hdrs, method="POST")
        return _send(req)

    def event(self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None,
              retry_reason: str = "http_timeout", **kw: Any) -> Sent:
        """An Events API delivery (``retry_num`` adds Slack's retry headers)."""
        return self.event_body(event_callback(event, event_id=event_id), retry_num=retry_num,
                               retry_reason=retry_reason, **kw)

    def event_body(self, body: dict[str, Any], *, retry_num: int | None = None,
                   retry_reason: str = "http_timeout", **kw: Any) -> Sent:
        headers = dict(kw.pop("headers", None) or {})
        if retry_num is not None:
            headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason})
        return self.post(json.dumps(body, ensure_ascii=False), "application/json", headers=headers, **kw)

    def command(self, command: str, text: str, **kw: Any) -> Sent:
        """A slash command (form-encoded); keyword arguments go to :func:`slash_command`."""
        sign_kw = {k: kw.pop(k) for k in ("signed", "timestamp", "secret") if k in kw}
        return self.post(urlencode(slash_command(command, text, **kw)), "application/x-www-form-urlencoded",
                         **sign_kw)

    def interactive(self, payload: dict[str, Any], **kw: Any) -> Sent:
        """Interactivity: the JSON payload in a ``payload=`` form field."""
        body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)})
        return self.post(body, "application/x-www-form-urlencoded", **kw)

    def url_verification(self, challenge: str) -> Sent:
        body = {"token": "legacy-verification-token", "challenge": challenge, "type": "url_verification"}
        return self.post(json.dumps(body), "application/json")

    def get(self, path: str) -> Sent:
        return _send(urllib.request.Request(self.base_url + path, method="GET"))


def _send(req: urllib.request.Request) -> Sent:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback only
            return Sent(resp.status, resp.read().decode(), dict(resp.headers), time.perf_counter() - started)
    except urllib.error.HTTPError as err:
        return Sent(err.code, err.read().decode(), dict(err.headers), time.perf_counter() - started)
