"""Socket Mode through a real WebSocket: slack_sdk's built-in client against a local server that
speaks Socket Mode's envelope protocol (``hello``, envelopes, ``{envelope_id}`` acks).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_helpers import (
    APP_TOKEN,
    event_callback,
    make_slack_settings,
    message_im,
    slack_command_payload,
    slack_stub_fixture,  # noqa: F401
)

from bench.slack_stub import SlackStub, SocketModeServer
from bot.slack.app import build_app, context_of, stop_background, wait_idle
from bot.slack.socket_mode import start_socket_mode

pytestmark = pytest.mark.slow


@pytest.fixture
def socket_app(kb_settings, tmp_path, slack_stub: SlackStub, engine) -> Iterator[tuple[Any, SocketModeServer]]:
    with SocketModeServer() as ws:
        slack_stub.socket_mode_url = ws.url
        settings = make_slack_settings(kb_settings.data_dir, slack_stub, db_path=tmp_path / "sm.db",
                                       SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET=None)
        app = build_app(settings, engine=engine, socket_mode=True)
        handler = start_socket_mode(app, APP_TOKEN)
        try:
            ws.wait_connected()
            yield app, ws
        finally:
            handler.close()
            wait_idle(app, 30)
            stop_background(app)
            context_of(app).answer_pool.shutdown(wait=True)


def test_events_arrive_over_the_websocket_are_acked_and_answered_once(socket_app, slack_stub: SlackStub) -> None:
    app, ws = socket_app
    (opened,) = slack_stub.calls("apps.connections.open")
    assert opened.headers["authorization"] == f"Bearer {APP_TOKEN}"
    body = event_callback(message_im("個人でも提案できますか？"))
    first = ws.send_envelope("events_api", body)
    assert ws.wait_ack(first) == {"envelope_id": first}
    again = ws.send_envelope("events_api", body, retry_attempt=1)  # Slack's redelivery
    assert ws.wait_ack(again)["envelope_id"] == again
    (answer,) = slack_stub.wait_for("chat.postMessage")
    assert answer.params["thread_ts"] == body["event"]["ts"] and answer.blocks[-1]["type"] == "actions"
    wait_idle(app, 30)
    assert len(slack_stub.calls("chat.postMessage")) == 1


def test_slash_command_over_socket_mode_is_acked_and_answered_ephemerally(socket_app, slack_stub: SlackStub) -> None:
    app, ws = socket_app
    url = slack_stub.response_url()
    envelope = ws.send_envelope("slash_commands", slack_command_payload("/ppp", "提案内容は公開されますか？",
                                                                        response_url=url),
                                accepts_response_payload=True)
    assert ws.wait_ack(envelope)["envelope_id"] == envelope
    (reply,) = slack_stub.wait_for("response_url")
    assert reply.params["response_type"] == "ephemeral" and reply.params["blocks"]
    wait_idle(app, 30)
