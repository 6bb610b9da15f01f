"""The one way features talk to Slack's Web API and to ``response_url``s, with retries and logging.

Every feature (answers, records, precedents) calls Slack through here, so retries (429 after
``Retry-After``, 5xx, connection errors: the client's and the webhook's retry handlers) and log
lines (method and error code only — never message text or personal data) behave the same way
everywhere.  A failure is logged and returned as ``None``/``False``, never raised into Bolt.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.slack.logs import error_code, kv, retry_handlers
from bot.slack.payload import channel_of, user_of

log = logging.getLogger("bot.slack.web")


def call_api(client: WebClient, method: str, *, event_id: str | None = None, **kwargs: Any) -> dict | None:
    """The SDK method for ``method`` (``chat.postMessage`` → ``chat_postMessage``, which picks JSON or
    form encoding as Slack expects) with the client's retry policy; ``None`` and a log line on failure.
    """
    try:
        resp = getattr(client, method.replace(".", "_"))(**kwargs)
        return resp.data if isinstance(resp.data, dict) else {}
    except SlackApiError as exc:
        log.error(kv("slack_call_failed", method=method, event_id=event_id,
                     status=exc.response.status_code, error=error_code(exc.response.get("error"))))
    except Exception as exc:  # noqa: BLE001 - connection errors after the retries ran out
        log.error(kv("slack_call_failed", method=method, event_id=event_id, error=type(exc).__name__))
    return None


def respond_url(response_url: str, *, text: str, blocks: list[dict] | None = None, replace: bool = False) -> bool:
    """An ephemeral message through a ``response_url`` (works where the bot is not a member)."""
    try:
        resp = WebhookClient(response_url, retry_handlers=retry_handlers()).send(
            text=text, blocks=blocks, response_type="ephemeral", replace_original=replace)
    except Exception as exc:  # noqa: BLE001
        log.error(kv("slack_call_failed", method="response_url", error=type(exc).__name__))
        return False
    if resp.status_code != 200:
        log.error(kv("slack_call_failed", method="response_url", status=resp.status_code))
        return False
    return True


def tell_user(client: WebClient, body: dict[str, Any], text: str, blocks: list[dict] | None = None) -> None:
    """A private note to whoever pressed a button or typed a command, in the same place.

    Ephemeral source messages (``/ppp`` answers) and slash commands answer through the
    ``response_url``; messages in a channel or DM through ``chat.postEphemeral`` in their thread.
    """
    user = user_of(body)
    container = body.get("container") or {}
    channel = channel_of(body)
    response_url = body.get("response_url")
    prefer_url = bool(body.get("command") or container.get("is_ephemeral") or not channel or not user)
    if prefer_url and response_url and respond_url(response_url, text=text, blocks=blocks):
        return
    if channel and user:
        thread_ts = (container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
                     or container.get("message_ts"))
        if post_ephemeral(client, channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts):
            return
        if response_url and respond_url(response_url, text=text, blocks=blocks):
            return
    log.error(kv("user_notice_undeliverable"))


def post_ephemeral(client: WebClient, *, channel: str, user: str, text: str, blocks: list[dict] | None = None,
                   thread_ts: str | None = None) -> bool:
    """``chat.postEphemeral`` (in ``thread_ts`` when given); whether Slack took it."""
    kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": text}
    if blocks:
        kwargs["blocks"] = blocks
    if thread_ts:
        kwargs["thread_ts"] = thread_ts
    return call_api(client, "chat.postEphemeral", **kwargs) is not None
