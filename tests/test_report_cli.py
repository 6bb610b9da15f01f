"""``ppp-desk report``: the desk's monthly figures as text, JSON and an Excel-ready CSV."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.cli.report import period
from bot.config import Settings
from bot.db import Database
from bot.knowledge_loop.log import QuestionLog
from tests.conftest import make_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = make_settings(tmp_path / "data", DATABASE_URL=f"sqlite:///{tmp_path / 'report.db'}")
    db = Database(s.db_url)  # migrates, as `ppp-desk migrate` would
    log = QuestionLog(db)
    now = datetime.now(UTC)
    log.record("個人でも提案できますか？", outcome="answered", turn_ref="a", at=now - timedelta(hours=2))
    log.record("=HYPERLINK(\"x\") 駐車場は使えますか？ yamada@example.co.jp", outcome="abstained", turn_ref="b",
               at=now - timedelta(hours=1))
    log.record("先月の質問", outcome="answered", turn_ref="c", at=now - timedelta(days=60))
    log.feedback("a", 1)
    log.handed_off("b")
    db.dispose()
    return s


def report(settings: Settings, *argv: str) -> int:
    args = build_parser().parse_args(["report", *argv])
    return args.handler(args, settings)


def test_json_counts_the_period_only(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    since = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    assert report(settings, "--since", since, "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["questions"], data["answered"], data["abstained"]) == (2, 1, 1)
    assert (data["thumbs_up"], data["handoffs"]) == (1, 1)
    assert data["answered_share"] == 0.5
    assert data["since"] == f"{since}T00:00:00+09:00"
    assert "yamada@example.co.jp" not in json.dumps(data, ensure_ascii=False)


def test_csv_file_has_a_bom_japanese_headers_and_no_formulas(settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "november.csv"
    since = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    assert report(settings, "--since", since, "--csv", "-o", str(out)) == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0] == "項目,値"
    assert "質問数,2" in text and "回答率,50.0%" in text
    assert "yamada@example.co.jp" not in text
    assert ",=" not in text and ",\"=" not in text  # a question that looks like a formula is quoted


def test_text_report_and_bad_dates(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    since = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    assert report(settings, "--since", "2026-11-01", "--until", "2026-11-30") == 0
    assert "期間: 2026-11-01 〜 2026-11-30" in capsys.readouterr().out  # the days asked for, in Japan time
    assert report(settings, "--since", since) == 0
    assert "質問 2 件" in capsys.readouterr().out
    assert report(settings, "--since", "2026-13-01") == 2
    assert "--since '2026-13-01' is not a date" in capsys.readouterr().err
    assert report(settings, "--since", "2026-11-30", "--until", "2026-11-01") == 2
    assert "before --since" in capsys.readouterr().err


def test_period_is_inclusive_calendar_days_in_japan_time() -> None:
    start, end = period("2026-11-01", "2026-11-30")
    assert start == datetime(2026, 10, 31, 15, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    start, end = period("2026-12-01", None, today=date(2026, 12, 2))
    assert end - start == timedelta(days=2)
