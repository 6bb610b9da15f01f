"""Socket Mode: the app opens a WebSocket to Slack instead of receiving HTTP requests.

For desks that cannot expose an HTTPS endpoint.  slack_sdk's built-in client calls
``apps.connections.open`` with the app-level token (``SLACK_APP_TOKEN``, ``xapp-…``) through the
same Web API base URL as everything else (``SLACK_API_URL``), receives envelopes, and acks each
one with its ``envelope_id`` right after Bolt's ack; lazy listeners then run as in HTTP mode.
"""

from __future__ import annotations

import logging
import signal
import threading

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.config import Settings
from bot.slack.logs import kv

log = logging.getLogger("bot.slack.socket_mode")


def start_socket_mode(app: App, app_token: str) -> SocketModeHandler:
    """Connect ``app`` over Socket Mode and return the handler (``handler.close()`` disconnects)."""
    handler = SocketModeHandler(app, app_token=app_token, web_client=app.client)
    handler.connect()
    log.info(kv("socket_mode_connected"))
    return handler


def run_socket_mode(settings: Settings, stop: threading.Event | None = None) -> int:
    """Serve until SIGTERM/SIGINT (or ``stop`` is set)."""
    from bot.slack.app import build_app, warm_up

    assert settings.slack_app_token  # checked by serve.run
    app = build_app(settings, socket_mode=True)
    warm_up(app)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    handler = start_socket_mode(app, settings.slack_app_token)
    try:
        stop.wait()
    finally:
        handler.close()
        log.info(kv("socket_mode_stopped"))
    return 0
