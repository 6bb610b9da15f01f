"""Logs an operator can use (issue 12, item 5): one line per event, JSON on request, quiet libraries,
fatal start-up errors as one line naming the setting or service.

The commands run as real processes (``python -m bot.cli``), the way systemd runs them; nothing of
ours is replaced.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_settings

from bot.config import PROJECT_ROOT
from bot.logs import JsonFormatter, OneLineFormatter, QuietThirdParty, configure_logging, parse_kv
from bot.slack.logs import kv


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "PPP_", "DESK_", "DATABASE_", "LLM_", "LOG_", "CHROMA_"))}
    env.update({"PYTHONPATH": str(PROJECT_ROOT), "PPP_DATA_DIR": str(tmp_path / "data")}, **extra)
    return env


def _cli(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *argv], cwd=tmp_path, env=_env(tmp_path, **env),
                          capture_output=True, text=True, timeout=120)


def _record(msg: str, name: str = "bot.slack", level: int = logging.INFO, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("bad\nthing")
        except ValueError:
            info = sys.exc_info()
    return logging.LogRecord(name, level, __file__, 1, msg, None, info)


def test_text_lines_fold_tracebacks_into_one_line() -> None:
    line = OneLineFormatter(tracebacks=False).format(_record("event=x a=1\nsecond", exc=True))
    assert "\n" not in line and line.endswith('error="ValueError: bad thing"')
    assert "Traceback" in OneLineFormatter(tracebacks=True).format(_record("boom", exc=True))


def test_json_lines_carry_event_fields() -> None:
    message = kv("answer_posted", surface="dm", ms=12.5, note='a "quoted" value')
    assert parse_kv(message) == {"event": "answer_posted", "surface": "dm", "ms": "12.5", "note": 'a "quoted" value'}
    obj = json.loads(JsonFormatter(tracebacks=False).format(_record(message, exc=True)))
    assert obj["event"] == "answer_posted" and obj["surface"] == "dm" and obj["level"] == "INFO"
    assert obj["error"] == "ValueError: bad thing" and "traceback" not in obj


def test_library_debug_noise_is_dropped_even_when_a_library_sets_debug(tmp_path: Path) -> None:
    out = io.StringIO()
    configure_logging(make_settings(tmp_path), stream=out)
    try:
        import bm25s  # noqa: F401 - sets its own logger to DEBUG when imported

        logging.getLogger("bm25s").debug("DEBUG bm25s noise")
        logging.getLogger("chromadb.telemetry").info("library info")
        logging.getLogger("alembic.runtime.migration").info("Running upgrade")
        logging.getLogger("urllib3").warning("library warning")
        logging.getLogger("bot.slack").info(kv("ours"))
        assert QuietThirdParty().filter(_record("x", name="ingest.pipeline", level=logging.DEBUG))
    finally:
        logging.getLogger().handlers.clear()
    text = out.getvalue()
    assert "noise" not in text and "library info" not in text and "Running upgrade" not in text
    assert "library warning" in text and "event=ours" in text


@pytest.mark.slow
def test_ingest_prints_no_library_debug_lines(tmp_path: Path) -> None:
    docs = tmp_path / "kn"
    docs.mkdir()
    (docs / "note.md").write_text("# 連絡先\n\n公民連携デスクへご相談ください。\n", "utf-8")
    done = _cli(tmp_path, "ingest", str(docs), LOG_FORMAT="json")
    assert done.returncode == 0, done.stderr
    assert "DEBUG" not in done.stderr and "bm25s" not in done.stderr


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_fatal_errors_are_one_line_naming_the_setting(tmp_path: Path) -> None:
    port = _refused_port()
    db = _cli(tmp_path, "records", "list", DATABASE_URL=f"postgresql+psycopg://ppp:secret@127.0.0.1:{port}/ppp")
    assert db.returncode != 0
    assert db.stderr.count("\n") == 1 and db.stderr.startswith("ppp-desk records: DATABASE_URL="), db.stderr
    assert "secret" not in db.stderr and "Traceback" not in db.stderr

    bad = _cli(tmp_path, "sources", PPP_MAX_PAGES="0")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "PPP_MAX_PAGES" in bad.stderr

    unmigrated = _cli(tmp_path, "records", "list")
    assert unmigrated.returncode != 0 and unmigrated.stderr.count("\n") == 1
    assert "ppp-desk migrate" in unmigrated.stderr

    debug = _cli(tmp_path, "records", "list", LOG_LEVEL="DEBUG",
                 DATABASE_URL=f"postgresql+psycopg://ppp:secret@127.0.0.1:{port}/ppp")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_a_missing_optional_package_names_the_extra() -> None:
    from bot.logs import fatal_message

    line = fatal_message(ModuleNotFoundError("No module named 'psycopg'", name="psycopg"), None)
    assert line == "DATABASE_URL needs the Python package psycopg: .venv/bin/pip install -e '.[postgres]'"
