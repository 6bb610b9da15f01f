"""Hostile and broken HTTP requests against the real server of ``ppp-desk serve`` (issue 10, item 9).

The signature is checked on the raw bytes before anything parses the body: an unsigned ``{x``,
a broken ``payload=``, a non-numeric timestamp or a lone surrogate in a draft field each get a
400/401 with one log line, never a traceback, a dropped connection or a 500; and the server goes
on answering.  The answer engine is never asked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_helpers import SIGNING_SECRET, RunningApp, make_slack_settings, running_app, view_submission

from bench.slack_stub import SlackStub
from bot.records import blocks as rb
from bot.slack import verify

pytestmark = pytest.mark.slow

FORM = "application/x-www-form-urlencoded"


class RefusingEngine:
    def answer(self, question: str, history: Any = None) -> Any:
        raise AssertionError("a refused request reached the answer engine")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[RunningApp]:
    with SlackStub() as stub:
        settings = make_slack_settings(tmp_path / "data", stub, db_path=tmp_path / "hostile.db")
        with running_app(settings, stub, engine=RefusingEngine()) as running:
            try:
                yield running
            finally:
                running.ctx.records.stop()


def _refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(("body", "content_type", "signed", "status", "reason"), [
    ("{x", "application/json", False, 401, "missing"),
    ("{x", "application/json", True, 400, "unparsable"),
    ("payload=%7Bnot-json", FORM, True, 400, "unparsable"),
    ("payload=%5B1%2C2%5D", FORM, True, 400, "not_an_object"),
    ("[1, 2]", "application/json", True, 400, "not_an_object"),
])
def test_broken_bodies_get_400_or_401_with_one_log_line(app: RunningApp, caplog: pytest.LogCaptureFixture,
                                                        body: str, content_type: str, signed: bool, status: int,
                                                        reason: str) -> None:
    caplog.set_level(logging.INFO)
    sent = app.sender.post(body, content_type, signed=signed)
    assert sent.status == status
    lines = _refusals(caplog)
    assert len(lines) == 1 and lines[0].exc_info is None, [r.getMessage() for r in lines]
    assert f"reason={reason}" in lines[0].getMessage() and body not in lines[0].getMessage()
    assert app.sender.url_verification("still-serving").json() == {"challenge": "still-serving"}


@pytest.mark.parametrize("timestamp", ["abc", "1e9", "-1", "", "99999999999999999999"])
def test_bad_timestamps_get_401(app: RunningApp, caplog: pytest.LogCaptureFixture, timestamp: str) -> None:
    caplog.set_level(logging.INFO)
    body = json.dumps({"type": "url_verification", "challenge": "c"})
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    sent = app.sender.post(body, "application/json", signed=False, headers={
        "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"})
    assert sent.status == 401
    assert len(_refusals(caplog)) == 1 and _refusals(caplog)[0].exc_info is None


def test_lone_surrogate_in_a_draft_field_gets_400_and_stores_nothing(app: RunningApp,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    def text(value: str) -> dict:
        return {"value": {"type": "plain_text_input", "value": value}}

    def choice(value: str) -> dict:
        return {"value": {"type": "radio_buttons", "selected_option": {"value": value}}}

    values = {"org_name": text("株式会社\ud800テック"), "contact_name": text("山田 花子"), "title": text("件名"),
              "summary": text("駅前で実証したい。"), "email": text("hanako@example.co.jp"),
              "org_type": {"value": {"type": "static_select", "selected_option": {"value": "corporation"}}},
              "cost_burden": choice("self"), "personal_info": choice("no"), "third_party_ip": choice("no")}
    payload = view_submission(rb.DRAFT_CALLBACK, values, private_metadata="{}")
    body = urlencode({"payload": json.dumps(payload)})  # JSON's \ud800 escape, as a client can send it
    sent = app.sender.post(body, FORM)
    assert sent.status == 400
    lines = _refusals(caplog)
    assert len(lines) == 1 and "reason=lone_surrogate" in lines[0].getMessage()
    assert app.ctx.records.service.list(include_drafts=True) == []


def test_signature_checks_are_pure_and_strict() -> None:
    raw, now = b'{"a":1}', time.time()
    ts = str(int(now))
    good = "v0=" + hmac.new(b"s", b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
    assert verify.signature_problem("s", raw, ts, good, now) is None
    assert verify.signature_problem("s", raw + b" ", ts, good, now) == "bad_signature"
    assert verify.signature_problem("s", raw, ts, good, now + 301) == "stale"
    assert verify.signature_problem("s", raw, "1.5", good, now) == "bad_timestamp"
    assert verify.signature_problem("s", raw, None, good, now) == "missing"
    assert verify.has_lone_surrogate({"k": ["ok", "\udc00"]}) and not verify.has_lone_surrogate({"k": "😀"})
