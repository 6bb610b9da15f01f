"""Migrations as an explicit step (issue 12, item 3), on SQLite and a real PostgreSQL.

``ppp-desk migrate [--check]`` upgrades or reports; read-only commands never migrate (they do
not even create the SQLite file); ``serve`` refuses an unmigrated database, or one made by a newer
version, with one line saying what to run; Alembic's own INFO lines stay out of the output.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_settings
from postgres_fixture import postgres_server, postgres_url  # noqa: F401 - fixtures
from slack_helpers import make_slack_settings, slack_stub_fixture  # noqa: F401 - fixture
from sqlalchemy import text
from test_ops_logs import _cli

from bench.slack_stub import SlackStub
from bot.config import Settings
from bot.db import make_engine
from bot.ops import migrate
from bot.slack.serve import run as serve


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    yield make_settings(tmp_path / "data", DATABASE_URL=url)


def _args(check: bool = False) -> argparse.Namespace:
    return argparse.Namespace(check=check)


def test_check_then_migrate_then_up_to_date(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    before = migrate.state(settings)
    assert not before.up_to_date and {rev for rev, _ in before.pending} >= set(before.heads)
    if migrate.sqlite_path(settings.db_url):
        assert not before.exists and not settings.data_dir.exists()  # reading created nothing
    assert migrate.run(_args(check=True), settings) == 1
    out = capsys.readouterr().out
    assert "pending 0001" in out
    assert migrate.run(_args(), settings) == 0
    out = capsys.readouterr().out
    assert out.startswith("migrate: applied 0001") and out.count("\n") == 1
    after = migrate.state(settings)
    assert after.up_to_date and after.current == after.heads and migrate.problem(settings) is None
    assert migrate.run(_args(check=True), settings) == 0
    assert migrate.run(_args(), settings) == 0
    assert "up to date" in capsys.readouterr().out


def test_a_newer_versions_database_is_refused(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert migrate.run(_args(), settings) == 0
    engine = make_engine(settings.db_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('9999')"))
    engine.dispose()
    capsys.readouterr()
    assert migrate.run(_args(check=True), settings) == 2
    assert "does not know" in capsys.readouterr().err
    assert "does not know" in (migrate.problem(settings) or "")


def test_read_only_commands_never_migrate(tmp_path: Path) -> None:
    for argv in (["records", "list"], ["records", "export", "--audit"], ["migrate", "--check"], ["doctor", "--offline"]):
        done = _cli(tmp_path, *argv)
        assert done.returncode != 0, argv
        assert not (tmp_path / "data" / "ppp-desk.db").exists(), argv
    done = _cli(tmp_path, "migrate")
    assert done.returncode == 0 and done.stderr == "", done.stderr  # no Alembic INFO lines
    assert done.stdout.startswith("migrate: applied") and done.stdout.count("\n") == 1
    listed = _cli(tmp_path, "records", "list")
    assert listed.returncode == 0 and listed.stdout.strip() == "No records."


def test_serve_refuses_an_unmigrated_database(tmp_path: Path, slack_stub: SlackStub,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_slack_settings(tmp_path / "data", slack_stub, db_path=tmp_path / "serve.db")
    assert serve(argparse.Namespace(port=0, workers=1), settings) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run `ppp-desk migrate`" in err
    assert not (tmp_path / "serve.db").exists() and slack_stub.calls() == []
