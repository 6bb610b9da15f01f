"""Backup and restore end to end (issue 12, items 3 and 4, and its "done when"), as an operator runs it.

Every step is the real command in its own process: ingest, doctor (offline), migrate, records made
the way the Slack app makes them (``tests/ops_seed.py``), backup, wiping the data directory (and,
on PostgreSQL, taking a new empty database), restore, and then ``records list``, the audit export
and ``precedents`` must show what they showed before; a second backup of the restored data must
equal the first table for table (records, audit history, outbox, ...).  On SQLite, on a real
PostgreSQL, across the two, and with a real Chroma server holding the knowledge.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import make_settings
from postgres_fixture import postgres_server, postgres_url  # noqa: F401 - fixtures
from test_chroma_server import chroma_port  # noqa: F401 - fixture: a real `chroma run`
from test_ops_doctor import CHROMA, small_knowledge
from test_ops_logs import _env

from bot.ops import backup as ops_backup
from bot.ops import migrate

SEED = Path(__file__).with_name("ops_seed.py")
pytestmark = pytest.mark.slow


class Operator:
    """Runs ``ppp-desk`` commands with one environment, like a shell with an ``.env``."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.cwd = tmp_path
        self.data = tmp_path / "data"
        self.env = _env(tmp_path, PPP_KNOWLEDGE_DIR=str(tmp_path / "knowledge"), **env)

    def __call__(self, *argv: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "bot.cli", *argv], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=300)
        if ok:
            assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
        return done

    def seed(self, *what: str) -> dict[str, str]:
        done = subprocess.run([sys.executable, str(SEED), *what], cwd=self.cwd, env=self.env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def seen(self) -> dict[str, object]:
        """What the desk sees: the records, their audit history, and a precedent search."""
        found = json.loads(self("precedents", "雪道の自動運転バス", "--json").stdout)
        return {"records": json.loads(self("records", "list", "--json").stdout),
                "sources": sorted(d["doc_id"] for d in json.loads(self("sources", "--json").stdout)),
                "audit": self("records", "export", "--audit", "--format", "json").stdout,
                "precedents": [(p["title"], p["record_id"]) for p in found["results"] if p["kind"] == "record"]}


def _tables(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text("utf-8") for p in sorted((directory / "tables").glob("*.jsonl"))}


def _new_database(server: str) -> str:
    import psycopg

    name = "r_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server.replace("postgresql+psycopg://", "postgresql://") + "/postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def _go_through_it(op: Operator, wipe) -> None:
    op("ingest")
    assert op("doctor", "--offline", ok=False).returncode == 1  # not migrated yet
    op("migrate")
    doc = op("doctor", "--offline").stdout
    assert "- slack: not checked (--offline); not configured" in doc and "✗" not in doc and doc.count("✓") >= 3, doc
    ids = op.seed()
    docs = op.seed("documents")  # one document added from Slack and kept, one added and removed
    before = op.seen()
    assert {ids["a"], ids["b"]} <= {r["id"] for r in before["records"]}
    assert ("雪道の自動運転バス実証", ids["a"]) in before["precedents"]
    assert docs["kept"] in before["sources"] and docs["gone"] not in before["sources"]
    out = op("backup", str(op.cwd / "backup")).stdout
    assert "internal precedents: 2 passages" in out and "documents added from Slack: 1 files" in out, out
    info = json.loads((op.cwd / "backup" / "backup.json").read_text("utf-8"))
    assert info["slack_files"]["files"] == ["F0KEEP001/F0KEEP001.pdf"]
    wipe()
    restored = op("restore", str(op.cwd / "backup")).stdout
    assert "documents added from Slack: 1 files copied back" in restored, restored
    assert "documents added from Slack: 1 in the knowledge base (1 re-published, 0 removed)" in restored, restored
    assert "public knowledge matches the backup's manifest" in restored, restored
    assert op.seen() == before
    op("backup", str(op.cwd / "again"))
    assert _tables(op.cwd / "again") == _tables(op.cwd / "backup")
    assert "record_outbox" in (op.cwd / "backup" / "backup.json").read_text("utf-8")
    op("doctor", "--offline")


def test_sqlite_backup_wipe_restore(tmp_path: Path) -> None:
    small_knowledge(tmp_path / "knowledge")
    op = Operator(tmp_path)
    _go_through_it(op, lambda: shutil.rmtree(op.data))
    assert (tmp_path / "backup" / "database.sqlite").is_file()


def test_postgresql_backup_wipe_restore(tmp_path: Path, postgres_server: str) -> None:  # noqa: F811
    small_knowledge(tmp_path / "knowledge")
    op = Operator(tmp_path, DATABASE_URL=_new_database(postgres_server))

    def wipe() -> None:
        shutil.rmtree(op.data)
        op.env["DATABASE_URL"] = _new_database(postgres_server)  # the old one is "lost"

    _go_through_it(op, wipe)
    assert not (tmp_path / "backup" / "database.sqlite").exists()


def test_sqlite_backup_restores_into_postgresql_and_back(tmp_path: Path, postgres_server: str) -> None:  # noqa: F811
    small_knowledge(tmp_path / "knowledge")
    op = Operator(tmp_path)
    op("ingest")
    op("migrate")
    op.seed()
    before = op.seen()
    op("backup", str(tmp_path / "from-sqlite"))
    shutil.rmtree(op.data)
    op.env["DATABASE_URL"] = _new_database(postgres_server)
    out = op("restore", str(tmp_path / "from-sqlite")).stdout
    assert "loaded the table copy from sqlite" in out
    assert op.seen() == before
    op("backup", str(tmp_path / "from-postgresql"))
    assert _tables(tmp_path / "from-postgresql") == _tables(tmp_path / "from-sqlite")
    # New records continue the numbering and ids after the restored ones (sequences were reset).
    more = op.seed()
    assert more["a"].endswith("0003")
    shutil.rmtree(op.data)
    del op.env["DATABASE_URL"]
    out = op("restore", str(tmp_path / "from-postgresql")).stdout
    assert "loaded the table copy from postgresql" in out
    assert len(json.loads(op("records", "list", "--json").stdout)) == len(before["records"])


def test_refusals_are_one_line(tmp_path: Path) -> None:
    small_knowledge(tmp_path / "knowledge")
    op = Operator(tmp_path)
    missing = op("backup", str(tmp_path / "b"), ok=False)
    assert missing.returncode != 0 and "nothing to back up" in missing.stderr and missing.stderr.count("\n") == 1
    op("migrate")
    op.seed()
    op("backup", str(tmp_path / "b"))
    again = op("backup", str(tmp_path / "b"), ok=False)
    assert again.returncode != 0 and "not empty" in again.stderr and again.stderr.count("\n") == 1
    onto = op("restore", str(tmp_path / "b"), "--no-ingest", ok=False)
    assert onto.returncode != 0 and "already holds rows" in onto.stderr and onto.stderr.count("\n") == 1
    junk = op("restore", str(tmp_path / "knowledge"), ok=False)
    assert junk.returncode != 0 and "not a ppp-desk backup" in junk.stderr and junk.stderr.count("\n") == 1


def test_an_older_backup_comes_back_at_its_revision_and_migrate_upgrades_it(tmp_path: Path) -> None:
    """The upgrade path: a backup made before an upgrade restores as it was; `migrate` takes it on."""
    settings = make_settings(tmp_path / "data")
    engine = migrate.make_engine(settings.db_url)
    migrate.upgrade(engine, "0002")  # an "older version": only the Slack tables
    engine.dispose()
    report = ops_backup.backup(settings, tmp_path / "old")
    assert report.info["database"]["revisions"] == ["0002"]
    info_file = tmp_path / "old" / ops_backup.INFO_FILE  # as written before Slack files were backed up
    info = json.loads(info_file.read_text("utf-8"))
    assert info.pop("slack_files") == {"directory": "slack_files", "files": [], "bytes": 0}
    info_file.write_text(json.dumps(info), "utf-8")
    assert not (tmp_path / "old" / ops_backup.SLACK_FILES_DIR).exists()
    shutil.rmtree(settings.data_dir)
    lines = ops_backup.restore(settings, tmp_path / "old", run_ingest=False).lines
    assert any("run `ppp-desk migrate`" in line for line in lines), lines
    assert migrate.state(settings).current == ("0002",)
    assert migrate.run(argparse.Namespace(check=False), settings) == 0
    assert migrate.state(settings).up_to_date


@pytest.mark.skipif(not CHROMA.exists(), reason=f"no chroma executable next to the interpreter ({CHROMA})")
def test_postgresql_and_chroma_server(tmp_path: Path, postgres_server: str, chroma_port: int) -> None:  # noqa: F811
    """The multi-host deployment (deploy/): records in PostgreSQL, both knowledge spaces on a Chroma server."""
    import chromadb

    small_knowledge(tmp_path / "knowledge")
    tag = uuid.uuid4().hex[:8]
    op = Operator(tmp_path, DATABASE_URL=_new_database(postgres_server), CHROMA_HOST="127.0.0.1",
                  CHROMA_PORT=str(chroma_port), PPP_COLLECTION=f"pub_{tag}", PPP_INTERNAL_COLLECTION=f"int_{tag}")

    def wipe() -> None:
        server = chromadb.HttpClient(host="127.0.0.1", port=chroma_port)
        for name in [c.name for c in server.list_collections() if c.name.endswith(tag) or tag in c.name]:
            server.delete_collection(name)
        shutil.rmtree(op.data, ignore_errors=True)
        op.env["DATABASE_URL"] = _new_database(postgres_server)

    _go_through_it(op, wipe)
