"""``ppp-desk serve`` as a real process: gunicorn with two workers behind one port, over loopback.

One server for the module (each worker loads the model, so starts are the slow part); the tests
run in order against it and the last one stops it with SIGTERM.  The workers share nothing but the
database, so a Slack retry that lands on another worker must still not produce a second answer.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from slack_helpers import (
    SlackSender,
    event_callback,
    make_slack_settings,
    message_im,
    slack_stub_fixture,  # noqa: F401
)

from bench.server_process import ServerProcess
from bench.slack_stub import SlackStub
from bot.slack.serve import BACKLOG, MAX_BODY_BYTES, WORKER_CONNECTIONS, run

pytestmark = pytest.mark.slow

WORKERS = 2


def _workers(pid: int) -> list[int]:
    """Pids of the direct children of ``pid`` (the gunicorn workers; Linux /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if not path.exists():
        pytest.skip("needs Linux /proc to find the worker processes")
    return [int(c) for c in path.read_text().split()]


def _ready(server: ServerProcess) -> int:
    return sum("event=worker_ready" in line for line in server.lines)


def _wait(predicate: Callable[[], bool], timeout: float, what: str, server: ServerProcess) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}:\n" + "".join(server.lines[-30:]))


@pytest.fixture(scope="module")
def stub() -> Iterator[SlackStub]:
    with SlackStub() as s:
        yield s


@pytest.fixture(scope="module")
def server(kb_settings, tmp_path_factory: pytest.TempPathFactory, stub: SlackStub) -> Iterator[ServerProcess]:
    db = tmp_path_factory.mktemp("serve") / "serve.db"
    proc = ServerProcess(kb_settings.data_dir, db, stub, workers=WORKERS).start()
    try:
        yield proc
    finally:
        proc.stop()
        proc.kill()


@pytest.fixture
def fresh_stub(stub: SlackStub) -> SlackStub:
    stub.reset()
    return stub


def test_both_workers_serve_health_and_events(server: ServerProcess) -> None:
    assert server.proc is not None and len(_workers(server.proc.pid)) == WORKERS
    pids = set()
    deadline = time.monotonic() + 60
    while len(pids) < WORKERS and time.monotonic() < deadline:  # each request is a new connection
        health = server.sender.get("/healthz")
        assert health.status == 200 and health.json()["ok"] is True
        pids.add(health.json()["pid"])
    assert pids == set(_workers(server.proc.pid))
    assert server.sender.get("/nothing-here").status == 404


def test_unsigned_and_forged_requests_get_401(server: ServerProcess, fresh_stub: SlackStub) -> None:
    body = json.dumps(event_callback(message_im("署名のない質問です")))
    assert server.sender.post(body, "application/json", signed=False).status == 401
    forged = SlackSender(server.sender.base_url, secret="not-the-signing-secret")
    assert forged.post(body, "application/json").status == 401
    assert server.sender.post("{x", "application/json").status == 400  # signed, but not a payload
    # Every oversized client hears 413 (the body is drained first, so no reset mid-send).
    assert [server.sender.post("x" * (MAX_BODY_BYTES * 3), "application/json").status for _ in range(5)] == [413] * 5
    _wait(lambda: sum("status=413 reason=too_large" in x for x in server.lines) >= 5, 10, "413s not logged", server)
    assert fresh_stub.calls("chat.postMessage") == []
    assert sum("event=http_request_refused status=401 reason=missing" in x for x in server.lines) == 1
    assert sum("status=401 reason=bad_signature" in x for x in server.lines) == 1
    assert sum("status=413 reason=too_large" in x for x in server.lines) == 5
    assert "署名のない質問です" not in "".join(server.lines)


def test_retries_across_workers_give_one_answer(server: ServerProcess, fresh_stub: SlackStub) -> None:
    question = "提案内容は公開されますか？"
    body = event_callback(message_im(question))
    other = event_callback(message_im("実証実験の費用は誰が負担しますか？", channel="D0OTHER01"))
    statuses: list[int] = []
    deliveries = [(body, None), (body, 1), (body, 2), (other, None), (body, None), (other, 1)]
    threads = [threading.Thread(target=lambda b=b, r=r: statuses.append(server.sender.event_body(b, retry_num=r).status))
               for b, r in deliveries]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert statuses == [200] * len(deliveries)
    fresh_stub.wait_for("chat.postMessage", count=2, timeout=60)
    time.sleep(2.0)  # time for a wrongly duplicated answer to show up
    posts = fresh_stub.calls("chat.postMessage")
    assert sorted(p.params["thread_ts"] for p in posts) == sorted([body["event"]["ts"], other["event"]["ts"]])
    logs = "".join(server.lines)
    assert "event=answer_posted" in logs and "event=duplicate_event_ignored" in logs
    assert question not in logs and "U0ASKER" not in logs


def test_a_killed_worker_is_replaced(server: ServerProcess, fresh_stub: SlackStub) -> None:
    assert server.proc is not None
    before, ready = _workers(server.proc.pid), _ready(server)
    os.kill(before[0], signal.SIGKILL)
    _wait(lambda: _ready(server) > ready, 240, "no new worker became ready", server)
    after = _workers(server.proc.pid)
    assert len(after) == WORKERS and before[0] not in after
    pids = set()
    deadline = time.monotonic() + 60
    while len(pids) < WORKERS and time.monotonic() < deadline:
        health = server.sender.get("/healthz")
        assert health.status == 200
        pids.add(health.json()["pid"])
    assert pids == set(after)
    assert server.sender.event(message_im("再起動後も答えてくれますか？")).status == 200
    fresh_stub.wait_for("chat.postMessage", count=1, timeout=60)


def test_connections_beyond_the_bound_wait_until_others_close(server: ServerProcess, fresh_stub: SlackStub) -> None:
    """Idle connections fill every worker's slots; a signed request waits in the backlog, then is served."""
    assert WORKERS * WORKER_CONNECTIONS + 8 < BACKLOG + WORKERS * WORKER_CONNECTIONS
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(WORKERS * WORKER_CONNECTIONS + 8)]
    try:
        time.sleep(1.0)  # the workers accept until they reach their bound
        result: list[int] = []
        asking = threading.Thread(target=lambda: result.append(
            server.sender.event(message_im("混んでいても答えてくれますか？")).status))
        asking.start()
        asking.join(2.0)
        assert asking.is_alive() and not result, "a request was served beyond the connection bound"
    finally:
        for conn in idle:
            conn.close()
    asking.join(30)
    assert result == [200]
    fresh_stub.wait_for("chat.postMessage", count=1, timeout=60)
    assert server.sender.get("/healthz").status == 200


def test_sigterm_stops_the_workers_cleanly(server: ServerProcess) -> None:
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(60) == 0, "".join(server.lines[-30:])
    _wait(lambda: "event=server_stopped" in "".join(server.lines), 10, "no server_stopped line", server)
    logs = "".join(server.lines)
    assert logs.count("event=worker_stopped") == WORKERS and "event=server_stopped" in logs
    assert "Traceback" not in logs


def test_serve_refuses_to_start_without_tokens(kb_settings, tmp_path: Path, slack_stub: SlackStub,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(port=0, workers=1)
    no_token = make_slack_settings(kb_settings.data_dir, slack_stub, db_path=tmp_path / "a.db", SLACK_BOT_TOKEN=None)
    assert run(args, no_token) == 2
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err
    no_secret = make_slack_settings(kb_settings.data_dir, slack_stub, db_path=tmp_path / "a.db",
                                    SLACK_SIGNING_SECRET=None)
    assert run(args, no_secret) == 2
    assert "SLACK_SIGNING_SECRET" in capsys.readouterr().err
    assert run(argparse.Namespace(port=0, workers=0), make_slack_settings(
        kb_settings.data_dir, slack_stub, db_path=tmp_path / "a.db")) == 2
    assert json.dumps(slack_stub.calls("chat.postMessage")) == "[]"
