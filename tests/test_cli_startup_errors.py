"""A wrong setting or an unreachable service is one line naming it, not a traceback (issue 10, item 13d)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from slack_helpers import BOT_TOKEN, SIGNING_SECRET

from bench.slack_stub import SlackStub
from bot.config import PROJECT_ROOT


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PPP_", "DESK_", "DATABASE_", "LLM_"))}
    base.update({"PPP_DATA_DIR": str(tmp_path / "data"), "PPP_KNOWLEDGE_DIR": str(PROJECT_ROOT / "knowledge"),
                 "PYTHONPATH": str(PROJECT_ROOT), "LOG_LEVEL": "INFO", **env})
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=tmp_path, env=base, capture_output=True,
                          text=True, timeout=120)


def _one_line(proc: subprocess.CompletedProcess) -> str:
    lines = [x for x in proc.stderr.splitlines() if x.strip() and " INFO " not in x and " WARNING " not in x]
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_slack_unreachable_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api/"
    assert _run(tmp_path, "migrate").returncode == 0  # serve refuses an unmigrated database first
    proc = _run(tmp_path, "serve", "--port", "0", SLACK_BOT_TOKEN="xoxb-fake", SLACK_SIGNING_SECRET=SIGNING_SECRET,
                SLACK_API_URL=url)
    line = _one_line(proc)
    assert line.startswith("ppp-desk serve: ") and f"SLACK_API_URL={url}" in line and "unreachable" in line


def test_a_refused_token_is_one_line_naming_the_token_setting(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0  # serve refuses an unmigrated database first
    with SlackStub() as stub:
        stub.error("auth.test", "invalid_auth")
        proc = _run(tmp_path, "serve", "--port", "0", SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                    SLACK_API_URL=stub.api_url)
    line = _one_line(proc)
    assert line == "ppp-desk serve: SLACK_BOT_TOKEN was refused by Slack (invalid_auth)"
    assert BOT_TOKEN not in proc.stderr


@pytest.mark.parametrize("command", [["records", "list"], ["serve", "--port", "0"]])
def test_unreachable_database_is_one_line_without_the_password(tmp_path: Path, command: list[str]) -> None:
    url = f"postgresql+psycopg://ppp:s3cret-pw@127.0.0.1:{_closed_port()}/ppp"
    proc = _run(tmp_path, *command, DATABASE_URL=url, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET)
    line = _one_line(proc)
    assert "DATABASE_URL=postgresql+psycopg://ppp:***@127.0.0.1" in line and "cannot be used" in line
    assert "s3cret-pw" not in proc.stderr


def test_debug_logging_keeps_the_traceback(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://ppp:pw@127.0.0.1:{_closed_port()}/ppp"
    proc = _run(tmp_path, "records", "list", DATABASE_URL=url, LOG_LEVEL="DEBUG")
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "DATABASE_URL=" in proc.stderr
