"""``ppp-desk doctor`` (issue 12, item 2) against the loopback Web API stand-in, a real database
(SQLite and PostgreSQL) and a real ``chroma run`` server.

The stand-in records every call, so the tests also show that doctor only reads: it calls
``auth.test``, ``conversations.info`` and ``usergroups.users.list`` and posts nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import KNOWLEDGE, make_settings
from postgres_fixture import postgres_server, postgres_url  # noqa: F401 - fixtures
from test_chroma_server import chroma_port  # noqa: F401 - fixture: a real `chroma run`
from test_ops_logs import _env, _refused_port

from bench.slack_stub import Reply, SlackStub
from bot.config import Settings
from bot.ops import doctor, migrate
from ingest.pipeline import ingest

DOCS = ["city.yaml", "glossary.yaml", "aomori/guideline.md", "cases/kobe-uber-eats.md"]
DESK = "CDESK0001"
GROUP = "SSTAFF01"


def small_knowledge(root: Path) -> Path:
    """A few bundled documents (ingest in seconds), city profile included."""
    for rel in DOCS:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(KNOWLEDGE / rel, root / rel)
    return root


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A data dir with the small knowledge ingested and the database migrated."""
    root = tmp_path_factory.mktemp("doctor")
    settings = make_settings(root / "data", PPP_KNOWLEDGE_DIR=small_knowledge(root / "knowledge"))
    assert ingest(settings, progress=False).ok
    assert migrate.run(argparse.Namespace(check=False), settings) == 0
    return settings


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    scopes = ",".join(sorted(doctor.manifest_scopes()))
    with SlackStub() as s:
        s.on("auth.test", lambda call: Reply(200, {"ok": True, "user": "ppp-desk", "user_id": "UBOT", "bot_id": "BBOT",
                                                   "team": "PPP Test", "team_id": "T0001"},
                                             {"x-oauth-scopes": scopes}))
        s.on("conversations.info", lambda call: {"ok": True, "channel": {
            "id": call.params.get("channel"), "name": "ppp-desk-staff", "is_private": True, "is_member": True}})
        s.usergroups[GROUP] = ["USTAFF1", "USTAFF2"]
        yield s


def slack(settings: Settings, stub: SlackStub, **overrides) -> Settings:
    """The store's settings plus a Slack app pointed at the stand-in (``overrides`` by variable name)."""
    values = {"PPP_KNOWLEDGE_DIR": settings.knowledge_dir, "DATABASE_URL": settings.database_url,
              "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "secret", "SLACK_API_URL": stub.api_url,
              "DESK_CHANNEL_ID": DESK, "DESK_STAFF_USERGROUP_ID": GROUP, **overrides}
    return make_settings(settings.data_dir, **values)


def report(settings: Settings, offline: bool = False) -> tuple[int, dict[str, doctor.Check], list[str]]:
    """Exit status, the checks that are not ✓ by name, and every line (for assertion messages)."""
    checks = doctor.run_checks(settings, offline=offline)
    code = 0 if doctor.serving_would_work(checks) else 1
    return code, {c.name: c for c in checks if c.status != "ok"}, [c.line() for c in checks]


def test_everything_in_place_is_all_green_and_only_reads(store: Settings, stub: SlackStub,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    code = doctor.run(argparse.Namespace(offline=False, json=False), slack(store, stub))
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("✓") == 8 and "✗" not in out and out.rstrip().endswith("doctor: serve would work")
    assert "all 9 scopes of manifest.yaml granted" in out and "#ppp-desk-staff" in out and "2 members" in out
    assert sorted({c.method for c in stub.calls()}) == ["auth.test", "conversations.info", "usergroups.users.list"]


def test_offline_reports_slack_as_not_configured(store: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert doctor.run(argparse.Namespace(offline=True, json=True), store) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert [c["status"] for c in data["checks"]] == ["ok", "ok", "ok", "skip"]
    assert "not configured" in data["checks"][-1]["detail"]
    # Without --offline the missing Slack app means serve would not work.
    code, bad, _ = report(store)
    assert code == 1 and "not configured" in bad["slack"].detail


@pytest.mark.parametrize(("program", "name", "expected"), [
    (lambda s: s.on("auth.test", lambda c: {"ok": False, "error": "invalid_auth"}), "slack token", "invalid_auth"),
    (lambda s: s.on("auth.test", lambda c: Reply(200, {"ok": True, "user_id": "UBOT", "bot_id": "BBOT"},
                                                 {"x-oauth-scopes": "chat:write,commands"})),
     "slack scopes", "missing app_mentions:read"),
    (lambda s: s.on("conversations.info", lambda c: {"ok": False, "error": "channel_not_found"}),
     "desk channel", "channel_not_found"),
    (lambda s: s.on("conversations.info", lambda c: {"ok": True, "channel": {"name": "desk", "is_member": False}}),
     "desk channel", "the app is not in it"),
    (lambda s: s.on("usergroups.users.list", lambda c: {"ok": False, "error": "no_such_subteam"}),
     "staff", "no_such_subteam"),
])
def test_each_slack_problem_is_named_with_advice(store: Settings, stub: SlackStub, program, name: str,
                                                 expected: str) -> None:
    program(stub)
    code, bad, lines = report(slack(store, stub))
    assert code == 1 and name in bad, lines
    assert expected in bad[name].detail and bad[name].advice
    assert not stub.calls("chat.postMessage")


def test_settings_problems(store: Settings, stub: SlackStub) -> None:
    code, bad, _ = report(slack(store, stub, SLACK_SIGNING_SECRET=None, DESK_CHANNEL_ID=None,
                                DESK_STAFF_USERGROUP_ID=None))
    assert code == 1 and {"slack mode", "desk channel", "staff"} <= set(bad)
    stub.socket_mode_url = "ws://127.0.0.1:9/"
    code, _, lines = report(slack(store, stub, SLACK_SIGNING_SECRET=None, SLACK_APP_TOKEN="xapp-test",
                                  DESK_STAFF_USERGROUP_ID=None, DESK_STAFF_USER_IDS="U1,U2"))
    assert code == 0, lines
    assert any("Socket Mode" in line for line in lines) and any("2 staff user ids" in line for line in lines)


def test_slack_unreachable(store: Settings) -> None:
    settings = make_settings(store.data_dir, PPP_KNOWLEDGE_DIR=store.knowledge_dir, SLACK_BOT_TOKEN="xoxb-fake",
                             SLACK_API_URL=f"http://127.0.0.1:{_refused_port()}/api/")
    code, bad, _ = report(settings)
    assert code == 1 and "cannot reach" in bad["slack token"].detail


def test_store_and_database_problems(tmp_path: Path, store: Settings) -> None:
    empty = make_settings(tmp_path / "data", PPP_KNOWLEDGE_DIR=store.knowledge_dir)
    code, bad, _ = report(empty, offline=True)
    assert code == 1 and "ppp-desk ingest" in bad["knowledge store"].advice
    assert "ppp-desk migrate" in bad["database"].advice
    assert not (tmp_path / "data").exists()  # doctor created nothing
    down = make_settings(store.data_dir, PPP_KNOWLEDGE_DIR=store.knowledge_dir,
                         DATABASE_URL=f"postgresql+psycopg://ppp:pw@127.0.0.1:{_refused_port()}/x")
    code, bad, _ = report(down, offline=True)
    assert code == 1 and "pw@" not in bad["database"].detail and "DATABASE_URL" in bad["database"].advice


def test_postgresql_database(store: Settings, postgres_url: str) -> None:  # noqa: F811
    settings = make_settings(store.data_dir, PPP_KNOWLEDGE_DIR=store.knowledge_dir, DATABASE_URL=postgres_url)
    code, bad, _ = report(settings, offline=True)
    assert code == 1 and "migrate" in bad["database"].advice
    assert migrate.run(argparse.Namespace(check=False), settings) == 0
    code, _, lines = report(settings, offline=True)
    assert code == 0, lines


def test_the_installed_command(store: Settings, tmp_path: Path) -> None:
    env = _env(tmp_path, PPP_DATA_DIR=str(store.data_dir), PPP_KNOWLEDGE_DIR=str(store.knowledge_dir))
    done = subprocess.run([sys.executable, "-m", "bot.cli", "doctor"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "✗ slack: not configured" in done.stdout, done.stdout + done.stderr
    done = subprocess.run([sys.executable, "-m", "bot.cli", "doctor", "--offline"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stdout + done.stderr


CHROMA = Path(sys.executable).with_name("chroma")


@pytest.mark.slow
@pytest.mark.skipif(not CHROMA.exists(), reason=f"no chroma executable next to the interpreter ({CHROMA})")
def test_chroma_server(chroma_port: int, tmp_path: Path, store: Settings) -> None:  # noqa: F811
    on_server = make_settings(tmp_path / "data", PPP_KNOWLEDGE_DIR=store.knowledge_dir, CHROMA_HOST="127.0.0.1",
                              CHROMA_PORT=chroma_port, DATABASE_URL=store.db_url, PPP_COLLECTION="doctor_public",
                              PPP_INTERNAL_COLLECTION="doctor_internal")
    code, bad, lines = report(on_server, offline=True)
    assert code == 1 and "chroma server" not in bad and "no collection" in bad["knowledge store"].detail, lines
    assert ingest(on_server, progress=False).ok
    code, _, lines = report(on_server, offline=True)
    assert code == 0 and any(line.startswith("✓ chroma server: 127.0.0.1") for line in lines), lines
    down = make_settings(tmp_path / "data", PPP_KNOWLEDGE_DIR=store.knowledge_dir, CHROMA_HOST="127.0.0.1",
                         CHROMA_PORT=_refused_port(), DATABASE_URL=store.db_url)
    code, bad, _ = report(down, offline=True)
    assert code == 1 and "does not answer" in bad["chroma server"].detail
    assert bad["knowledge store"].status == "skip"


def test_odd_log_settings_are_warnings_not_failures(store: Settings) -> None:
    odd = make_settings(store.data_dir, PPP_KNOWLEDGE_DIR=store.knowledge_dir, LOG_LEVEL="LOUD", LOG_FORMAT="xml")
    code, bad, lines = report(odd, offline=True)
    assert code == 0 and bad["configuration"].status == "warn", lines
    assert sum("LOG_LEVEL" in line or "LOG_FORMAT" in line for line in lines) == 2
