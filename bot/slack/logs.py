"""Structured logs for the Slack surface: ``event=name key=value`` lines, no message text.

Slack payloads carry what businesses wrote and who they are.  Our own log lines name the event
and ids only (event id, method, error code, latency); the Slack SDK's debug logs print whole
request bodies, so their level is floored at INFO, and Bolt's "unhandled request" warning (which
quotes parts of the body) is reduced to its first words.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlparse

from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

log = logging.getLogger("bot.slack")
_ERROR_CODE = re.compile(r"[a-z0-9_.]{1,64}")


def _fmt(value: Any) -> str:
    text = f"{value:.1f}" if isinstance(value, float) else str(value)
    if text == "" or any(c in text for c in ' "=\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def kv(event: str, **fields: Any) -> str:
    """One logfmt line: ``event=answer_posted surface=dm ms=123.4`` (``None`` fields are dropped)."""
    parts = [f"event={_fmt(event)}"]
    parts += [f"{k}={_fmt(v)}" for k, v in fields.items() if v is not None]
    return " ".join(parts)


class RedactSlackBodies(logging.Filter):
    """Cuts Bolt/SDK log records that would quote a request or response body."""

    _MARKERS = ("Unhandled request (", "Sending a request", "Received the following response",
                "request body:", "payload:")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is dropped rather than risking its args
            return False
        for marker in self._MARKERS:
            if marker in message:
                record.msg = message.split(marker, 1)[0] + marker.rstrip(" (:") + " (body omitted)"
                record.args = ()
                break
        return True


_REDACTOR = RedactSlackBodies()


def configure_slack_logging() -> None:
    """Floor the Slack libraries at INFO and redact bodies (idempotent; call at start-up)."""
    for name in ("slack_bolt", "slack_sdk", "slack_bolt.App"):
        lg = logging.getLogger(name)
        if lg.level < logging.INFO:  # NOTSET included: never inherit DEBUG from the root logger
            lg.setLevel(logging.INFO)
        if _REDACTOR not in lg.filters:
            lg.addFilter(_REDACTOR)
    for handler in logging.getLogger().handlers:
        if _REDACTOR not in handler.filters:
            handler.addFilter(_REDACTOR)


def error_code(value: object) -> str | None:
    """Slack's ``error`` field if it is an error code (``not_in_channel``), else a generic marker.

    For a non-JSON reply the SDK puts the reply's text there; that is not ours to log.
    """
    if value is None:
        return None
    text = str(value)
    return text if _ERROR_CODE.fullmatch(text) else "unparsed_response"


def _method(request: HttpRequest) -> str:
    path = urlparse(request.url).path
    return path.rsplit("/", 1)[-1] or path


def _log_retry(kind: str, state: RetryState, request: HttpRequest, response: HttpResponse | None,
               error: Exception | None) -> None:
    log.warning(kv("slack_api_retry", reason=kind, method=_method(request),
                   status=response.status_code if response is not None else None,
                   error=type(error).__name__ if error is not None else None,
                   attempt=state.current_attempt + 1))


class LoggedRateLimitRetry(RateLimitErrorRetryHandler):
    """429: wait for ``Retry-After`` and try again, leaving a log line."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        ok = super()._can_retry(state=state, request=request, response=response, error=error)
        if ok:
            _log_retry("rate_limited", state, request, response, error)
        return ok


class LoggedServerErrorRetry(ServerErrorRetryHandler):
    """500/503 from the Web API: back off and try again, leaving a log line."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        ok = super()._can_retry(state=state, request=request, response=response, error=error)
        if ok:
            _log_retry("server_error", state, request, response, error)
        return ok


class LoggedConnectionErrorRetry(ConnectionErrorRetryHandler):
    """Connection reset / refused: try again, leaving a log line."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        ok = super()._can_retry(state=state, request=request, response=response, error=error)
        if ok:
            _log_retry("connection_error", state, request, response, error)
        return ok


def retry_handlers() -> list[RetryHandler]:
    """The Web API retry policy: rate limits (3×), server errors (2×), connection errors (2×)."""
    return [LoggedRateLimitRetry(max_retry_count=3), LoggedServerErrorRetry(max_retry_count=2),
            LoggedConnectionErrorRetry(max_retry_count=2)]
