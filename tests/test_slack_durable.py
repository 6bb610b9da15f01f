"""No acked question is lost (issue 10, item 3): crashes, Web API outages, retries, failing engines.

The real app over signed HTTP with the Web API stand-in; the crash test runs ``ppp-desk serve`` as
a process and kills it with SIGKILL.  Each test failed on the code before the durable answer path:
the event id was claimed before answering and answers did not go through the outbox.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from postgres_fixture import postgres_server, postgres_url  # noqa: F401, F811 - fixtures
from slack_helpers import (
    RunningApp,
    app_mention,
    event_callback,
    make_slack_settings,
    message_im,
    running_app,
    slack_app_fixture,  # noqa: F401
    slack_settings_fixture,  # noqa: F401
    slack_stub_fixture,  # noqa: F401
)
from sqlalchemy import select

from bench.server_process import ServerProcess
from bench.slack_stub import Call, SlackStub
from bot.engine.answer import Answer

pytestmark = pytest.mark.slow

QUESTION = "個人でも提案できますか？"


def _fast_outbox(app: RunningApp) -> None:
    answers = getattr(app.ctx, "answers", None)  # (absent before the durable path: the test then fails on what it sees)
    if answers is not None:
        answers.worker.poll_s, answers.worker.base_delay_s, answers.worker.max_delay_s = 0.2, 0.2, 1.0


def _replies(stub: SlackStub, channel: str, thread: str) -> list[Call]:
    return [c for c in stub.successful("chat.postMessage")
            if c.params.get("channel") == channel and c.params.get("thread_ts") == thread]


def _wait_replies(stub: SlackStub, pairs: list[tuple[str, str]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_replies(stub, ch, th) for ch, th in pairs):
            return
        time.sleep(0.1)
    missing = [p for p in pairs if not _replies(stub, *p)]
    raise AssertionError(f"{len(missing)}/{len(pairs)} questions without a reply")


# --- the process dies ----------------------------------------------------------------------------------


def test_questions_acked_before_a_kill_are_answered_once_after_restart(kb_settings, tmp_path: Path) -> None:
    """SIGKILL with questions in flight, restart, Slack's retries resent: each answered exactly once."""
    n = 20
    with SlackStub() as stub:
        server = ServerProcess(kb_settings.data_dir, tmp_path / "slack.db", stub).start()
        try:
            bodies = [event_callback(message_im(f"{QUESTION}（{i}）", channel=f"D0KILL{i:04d}")) for i in range(n)]
            statuses: list[int] = []
            threads = [threading.Thread(target=lambda b=b: statuses.append(server.sender.event_body(b).status))
                       for b in bodies]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            server.kill()
            assert statuses == [200] * n  # every question was acked: Slack would never resend them
            answered_before = sum(bool(_replies(stub, b["event"]["channel"], b["event"]["ts"])) for b in bodies)
            assert answered_before < n, "the kill came too late to test anything"

            server.start()
            for body in bodies:  # what Slack would do had it missed the acks
                assert server.sender.event_body(body, retry_num=1).status == 200
            # a retry of an event the dead process never stored is a new question
            unseen = event_callback(message_im("提案書の様式はありますか？", channel="D0UNSEEN01"))
            assert server.sender.event_body(unseen, retry_num=2).status == 200
            pairs = [(b["event"]["channel"], b["event"]["ts"]) for b in [*bodies, unseen]]
            _wait_replies(stub, pairs, timeout=120)
            time.sleep(1.0)
            counts = [len(_replies(stub, *p)) for p in pairs]
            assert counts == [1] * (n + 1), counts
            assert all(c.blocks for p in pairs for c in _replies(stub, *p))  # answers, not apologies
        finally:
            server.stop()
            server.kill()


# --- Slack fails --------------------------------------------------------------------------------------


def test_answer_survives_a_web_api_outage_longer_than_the_client_retries(slack_app: RunningApp) -> None:
    _fast_outbox(slack_app)
    slack_app.stub.outage(6.0)
    event = message_im(QUESTION)
    sent = slack_app.sender.event(event)
    assert sent.status == 200 and sent.seconds < 3
    started = time.monotonic()
    _wait_replies(slack_app.stub, [(event["channel"], event["ts"])], timeout=40)
    assert time.monotonic() - started >= 4.0  # delivered only once Slack was back
    time.sleep(1.5)
    assert len(_replies(slack_app.stub, event["channel"], event["ts"])) == 1
    failed = [c for c in slack_app.stub.calls() if c.status == 500]  # posts, and the checks before re-posting
    assert len(failed) >= 3 and any(c.method == "chat.postMessage" for c in failed)


def test_answer_survives_five_rate_limits_in_a_row(slack_app: RunningApp) -> None:
    _fast_outbox(slack_app)
    slack_app.stub.rate_limit("chat.postMessage", retry_after=1, times=5)
    event = message_im(QUESTION)
    assert slack_app.sender.event(event).status == 200
    _wait_replies(slack_app.stub, [(event["channel"], event["ts"])], timeout=40)
    time.sleep(1.0)
    statuses = [c.status for c in slack_app.stub.calls("chat.postMessage")]
    assert statuses == [429] * 5 + [200]
    assert len(_replies(slack_app.stub, event["channel"], event["ts"])) == 1


def test_a_post_that_slack_took_but_answered_500_is_not_repeated(slack_app: RunningApp) -> None:
    """Slack stored the message and then failed: the retry finds it (message metadata) and stops."""
    _fast_outbox(slack_app)
    slack_app.stub.accept_then_fail("chat.postMessage", 500)
    event = message_im(QUESTION)
    assert slack_app.sender.event(event).status == 200
    deadline = time.monotonic() + 20
    while not slack_app.stub.calls("conversations.replies") and time.monotonic() < deadline:
        time.sleep(0.1)
    slack_app.wait_idle()
    time.sleep(1.5)
    posted = [m for m in slack_app.stub.messages if m["channel"] == event["channel"]]
    assert len(posted) == 1 and posted[0]["metadata"]["event_type"] == "ppp_desk_reply"
    assert [c.status for c in slack_app.stub.calls("chat.postMessage")] == [500]


def test_duplicate_deliveries_and_late_retries_give_one_answer(slack_app: RunningApp) -> None:
    body = event_callback(app_mention(f"<@UBOT> {QUESTION}"))
    results: list[int] = []
    threads = [threading.Thread(target=lambda r=r: results.append(slack_app.sender.event_body(body, retry_num=r).status))
               for r in (None, None, 1, 2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == [200] * 4
    _wait_replies(slack_app.stub, [(body["event"]["channel"], body["event"]["ts"])], timeout=30)
    slack_app.wait_idle()
    assert slack_app.sender.event_body(body, retry_num=3).status == 200  # after the answer was posted
    slack_app.wait_idle()
    time.sleep(0.5)
    assert len(_replies(slack_app.stub, body["event"]["channel"], body["event"]["ts"])) == 1
    from bot.slack.models import PendingQuestion

    with slack_app.ctx.db.session() as s:
        rows = s.scalars(select(PendingQuestion)).all()
        assert [(r.status, r.event_id) for r in rows] == [("answered", body["event_id"])]


# --- the engine fails ---------------------------------------------------------------------------------


class FlakyEngine:
    """Stands where the answer engine would (another module's job): fails ``failures`` times, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def answer(self, question: str, history: Any = None) -> Answer:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("engine down")
        return Answer(question=question, text="提案は随時受け付けています。", category="process", abstained=False)


@pytest.fixture
def flaky_app(request: pytest.FixtureRequest, kb_settings, tmp_path: Path) -> Iterator[tuple[RunningApp, FlakyEngine]]:
    engine = FlakyEngine(request.param)
    with SlackStub() as stub:
        settings = make_slack_settings(kb_settings.data_dir, stub, db_path=tmp_path / "flaky.db")
        with running_app(settings, stub, engine=engine) as app:
            app.ctx.answers.sweep_s = 0.2
            app.ctx.answers.kick()
            yield app, engine


@pytest.mark.parametrize("flaky_app", [1], indirect=True)
def test_an_engine_error_is_retried_and_answered_once(flaky_app: tuple[RunningApp, FlakyEngine]) -> None:
    app, engine = flaky_app
    event = message_im(QUESTION)
    assert app.sender.event(event).status == 200
    _wait_replies(app.stub, [(event["channel"], event["ts"])], timeout=30)
    time.sleep(0.5)
    replies = _replies(app.stub, event["channel"], event["ts"])
    assert len(replies) == 1 and replies[0].blocks and engine.calls == 2


@pytest.mark.parametrize("flaky_app", [99], indirect=True)
def test_an_engine_that_keeps_failing_gets_one_apology(flaky_app: tuple[RunningApp, FlakyEngine]) -> None:
    app, engine = flaky_app
    event = message_im("Can a sole proprietor submit a proposal?")
    assert app.sender.event(event).status == 200
    _wait_replies(app.stub, [(event["channel"], event["ts"])], timeout=30)
    time.sleep(1.0)
    replies = _replies(app.stub, event["channel"], event["ts"])
    assert len(replies) == 1 and engine.calls == 3
    assert replies[0].params["text"].startswith("Sorry") and not replies[0].blocks


# --- PostgreSQL: the same guarantees where several hosts share the database ----------------------------


def test_on_postgresql_an_outage_and_duplicates_still_give_one_answer(kb_settings, postgres_url: str) -> None:  # noqa: F811
    with SlackStub() as stub:
        settings = make_slack_settings(kb_settings.data_dir, stub, DATABASE_URL=postgres_url)
        with running_app(settings, stub, engine=FlakyEngine(0)) as app:
            _fast_outbox(app)
            stub.outage(3.0)
            body = event_callback(message_im(QUESTION))
            assert [app.sender.event_body(body, retry_num=r).status for r in (None, 1, 2)] == [200] * 3
            _wait_replies(stub, [(body["event"]["channel"], body["event"]["ts"])], timeout=30)
            time.sleep(1.0)
            assert len(_replies(stub, body["event"]["channel"], body["event"]["ts"])) == 1
