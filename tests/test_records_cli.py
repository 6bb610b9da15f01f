"""``ppp-desk records list|show|export|delete`` on both databases.

Records are made through the real service (as the Slack app makes them); the commands run through
the real argument parser, and once as the installed ``ppp-desk`` program in a subprocess, the way
the desk runs it to fill its spreadsheets.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import KNOWLEDGE, make_settings
from postgres_fixture import postgres_server, postgres_url  # noqa: F401 - fixtures

from bot.city import load_city
from bot.cli import build_parser
from bot.cli import records as cli
from bot.config import Settings
from bot.db import Database
from bot.records.fields import ProposalFields
from bot.records.service import RecordService


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    url = (f"sqlite:///{tmp_path / 'cli.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    yield make_settings(tmp_path / "data", DATABASE_URL=url)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """The database the test writes through (the CLI opens its own, as a separate run would)."""
    database = Database(settings.db_url)
    yield database
    database.dispose()


@pytest.fixture
def seeded(settings: Settings, db: Database) -> dict[str, str]:
    svc = RecordService(db, settings, city=load_city(KNOWLEDGE))
    base = {"org_type": "corporation", "contact_name": "山田 花子", "email": "hanako@example.co.jp",
            "summary": "駅前で実証したい", "kind": "open", "scheme": "trial", "cost_burden": "self",
            "personal_info": "no", "third_party_ip": "no", "asks": ["field"], "schedule": "来年度"}
    a = svc.save(ProposalFields.from_dict({**base, "org_name": "株式会社青森テック", "title": "自動運転バス"}),
                 proposer="U1", submit=True).record.record_id
    b = svc.save(ProposalFields.from_dict({**base, "org_name": "山田 太郎", "org_type": "individual",
                                           "title": "=1+1 個人の提案"}), proposer="U2", submit=True).record.record_id
    svc.save(ProposalFields(title="非公開の下書き"), proposer="U3", submit=False)
    svc.change_status(a, "received", actor="USTAFF")
    svc.change_status(a, "declined", actor="USTAFF", note="予算の都合")
    return {"a": a, "b": b}


def run(settings: Settings, *argv: str) -> int:
    return cli.run(build_parser().parse_args(["records", *argv]), settings)


def test_list_table_and_json(settings: Settings, seeded: dict, capsys: pytest.CaptureFixture) -> None:
    assert run(settings, "list") == 0
    out = capsys.readouterr().out
    assert seeded["a"] in out and seeded["b"] in out and "見送り" in out and "2 records" in out
    assert "非公開の下書き" not in out  # drafts are the business's own
    assert run(settings, "list", "--status", "declined", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["id"] for d in data] == [seeded["a"]] and data[0]["status"] == "declined"
    assert run(settings, "list", "--status", "nope") == 2


def test_show_text_and_json(settings: Settings, seeded: dict, capsys: pytest.CaptureFixture) -> None:
    assert run(settings, "show", seeded["b"]) == 0
    out = capsys.readouterr().out
    assert "個人(個人事業主を除く)からの提案は対象外となります。" in out and "留意事項, p. 15" in out
    assert run(settings, "show", seeded["a"].lower(), "--json") == 0  # ids are case-insensitive
    data = json.loads(capsys.readouterr().out)
    assert [h["to_status"] for h in data["history"]] == ["draft", "submitted", "received", "declined"]
    assert data["history"][-1]["note"] == "予算の都合" and data["history"][-1]["actor"] == "USTAFF"
    assert run(settings, "show", "P-1999-0001") == 1


def test_export_csv_json_and_audit(settings: Settings, seeded: dict, tmp_path: Path,
                                   capsys: pytest.CaptureFixture) -> None:
    out_csv = tmp_path / "records.csv"
    assert run(settings, "export", "-o", str(out_csv)) == 0
    raw = out_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens it as UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {r["受付番号"] for r in rows} == {seeded["a"], seeded["b"]}
    b_row = next(r for r in rows if r["受付番号"] == seeded["b"])
    assert b_row["提案の件名"] == "'=1+1 個人の提案" and b_row["団体の種別"] == "個人"
    assert "individual_not_eligible" in b_row["事前確認フラグ"]

    assert run(settings, "export", "--format", "json", "--status", "submitted") == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["id"] for d in data] == [seeded["b"]] and data[0]["title"] == "=1+1 個人の提案"

    assert run(settings, "export", "--audit") == 0
    audit = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert audit[0] == ["受付番号", "日時", "操作者（Slack）", "変更前", "変更後", "メモ"]
    assert [seeded["a"], "USTAFF", "受付", "見送り", "予算の都合"] == [audit[-1][i] for i in (0, 2, 3, 4, 5)]
    assert run(settings, "export", "--audit", "--format", "json") == 0
    assert len(json.loads(capsys.readouterr().out)) == len(audit) - 1


def test_delete_needs_confirmation_and_takes_the_record_out_of_precedent_search(
        settings: Settings, db: Database, seeded: dict, capsys: pytest.CaptureFixture) -> None:
    from bot.precedents.space import PrecedentSpace

    space = PrecedentSpace(settings)
    space.record_saved(RecordService(db, settings).get(record_id=seeded["b"]).to_dict())  # indexed as the Slack app would have
    assert seeded["b"] in {p.record_id for p in space.search("個人の提案", limit=20) if p.record_id}
    assert run(settings, "delete", seeded["b"]) == 2
    assert run(settings, "delete", seeded["b"], "--yes") == 0
    assert run(settings, "show", seeded["b"]) == 1
    again = PrecedentSpace(settings)  # a fresh process's view of the internal store
    assert seeded["b"] not in {p.record_id for p in again.search("個人の提案", limit=20) if p.record_id}


def test_installed_command_exports_for_the_spreadsheet(settings: Settings, seeded: dict, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PPP_", "DATABASE_URL", "LLM_"))}
    env.update({"PPP_DATA_DIR": str(settings.data_dir), "PPP_KNOWLEDGE_DIR": str(KNOWLEDGE),
                "DATABASE_URL": settings.db_url})
    exe = Path(sys.executable).with_name("ppp-desk")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "bot.cli"]
    target = tmp_path / "desk.csv"
    done = subprocess.run([*cmd, "records", "export", "-o", str(target)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "wrote 2 records" in done.stderr
    assert seeded["a"] in target.read_text("utf-8-sig")


def test_terminal_escapes_from_a_draft_are_printed_inert(settings: Settings, db: Database,
                                                         capsys: pytest.CaptureFixture) -> None:
    svc = RecordService(db, settings, city=load_city(KNOWLEDGE))
    hostile = "\x1b]52;c;ZXZpbA==\x07\x1b[2J偽の件名\r上書き\x9b31m\u202eabc"
    rid = svc.save(ProposalFields.from_dict({"org_name": "株式会社\x1b[8m青森", "org_type": "corporation",
                                             "contact_name": "山田", "title": hostile, "summary": "一行目\n二行目\x1b[0m",
                                             "cost_burden": "self", "personal_info": "no", "third_party_ip": "no"}),
                   proposer="U1", submit=True).record.record_id
    svc.change_status(rid, "declined", actor="USTAFF", note="理由\x1b[31m赤")
    for argv in (("list",), ("show", rid), ("list", "--json"), ("show", rid, "--json")):
        assert run(settings, *argv) == 0
        out = capsys.readouterr().out
        for raw in ("\x1b", "\x07", "\r", "\x9b", "\u202e"):
            assert raw not in out, (argv, repr(raw))
    assert run(settings, "show", rid) == 0
    shown = capsys.readouterr().out
    assert "␛]52;c;ZXZpbA==␇␛[2J偽の件名␍上書き\\x9b31m\\u202eabc" in shown and "一行目\n二行目␛[0m" in shown
    assert run(settings, "show", rid, "--json") == 0
    assert json.loads(capsys.readouterr().out)["title"] == hostile  # the data itself is unchanged
