"""Documents staff added from Slack, kept as files: where they live, how they load, which are in.

「ナレッジに追加」 (``bot.knowledge_loop.slack.files``) is only the way in.  What must outlast a
rebuilt store or a restore lives here: the file under ``PPP_DATA_DIR/slack_files/<file_id>/``
(``backup`` copies that folder) and the ``knowledge_audit`` rows.  A document is *added* when its
file is on disk and its latest audit action is ``add_document``; :func:`sync` puts those back
into a store that lacks them and takes out the ones whose latest action is ``remove_document``,
so ``ppp-desk ingest`` and ``restore`` lose none of them.  Nothing here knows about Slack.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from bot.config import Settings
from bot.db import Database
from bot.knowledge_loop.models import LoopAudit
from ingest.loaders import SUPPORTED, LoadedDocument, LoadError, load
from ingest.pipeline import PUBLISHED_PREFIX, load_limits, put_document, remove_document
from ingest.store import ChunkStore, DocRecord

# Documents added from Slack share the application's prefix (no folder's --prune touches them)
# but are not desk answers.
FILES_PREFIX = f"{PUBLISHED_PREFIX}files/"
FILES_DIR = "slack_files"
ADD, REMOVE = "add_document", "remove_document"
FILE_ID = re.compile(r"^F[A-Z0-9]{2,30}$")
_UNSAFE = re.compile(r"[^\w.\-]+")
# A downloaded file nobody added is deleted when its preview is cancelled, or by the daily sweep
# once it is this old (a preview left open in a closed tab): it may hold a business's personal data.
PREVIEW_KEEP_S = 24 * 3600


def files_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / FILES_DIR


def doc_id_of(file_id: str) -> str:
    return f"{FILES_PREFIX}{file_id}"


def file_id_of(doc_id: str) -> str | None:
    """The Slack file id of a document id, or ``None`` when it is not a well-formed Slack document's."""
    file_id = doc_id[len(FILES_PREFIX):] if doc_id.startswith(FILES_PREFIX) else ""
    return file_id if FILE_ID.match(file_id) else None


def stored_path(settings: Settings, file_id: str, name: str) -> Path:
    """Where the file ``name`` of ``file_id`` is kept: its own folder, a name safe on any disk."""
    suffix = Path(name).suffix.lower()
    stem = _UNSAFE.sub("_", Path(name).stem)[:80].strip("._") or "document"
    return files_dir(settings) / file_id / f"{stem}{suffix}"


def stored_file(settings: Settings, file_id: str) -> Path | None:
    """The kept file of ``file_id`` (one per folder), or ``None`` when there is none."""
    folder = files_dir(settings) / file_id
    if not FILE_ID.match(file_id) or not folder.is_dir():
        return None
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED)
    return found[0] if found else None


def load_stored(settings: Settings, path: Path, file_id: str, title: str) -> LoadedDocument:
    """The kept file as ingest would store it (its loaders and limits); ``title`` when it has none.

    Raises :class:`LoadError` with the reason when it cannot be used.
    """
    loaded = load(path, path.parent, load_limits(settings))
    if loaded.metadata.get("title") in (None, "", path.stem):
        loaded.metadata["title"] = title
    loaded.doc_id = doc_id_of(file_id)
    loaded.metadata.setdefault("source", "slack")
    return loaded


def source_of(file_id: str) -> str:
    return f"slack:{file_id}"


def in_store(store: ChunkStore) -> list[DocRecord]:
    """Documents added from Slack that the store holds, newest first."""
    docs = [r for d, r in store.documents().items() if d.startswith(FILES_PREFIX)]
    return sorted(docs, key=lambda r: r.ingested_at, reverse=True)


# --- the audit: who added or removed which document ----------------------------------------------
def _audit(db: Database, actor: str, action: str, doc_id: str, note: str) -> None:
    with db.session() as session:
        session.add(LoopAudit(actor=actor, action=action, target=doc_id, note=note[:200]))


def add(settings: Settings, db: Database, store: ChunkStore, loaded: LoadedDocument, actor: str) -> DocRecord:
    """Put a loaded kept file into the public store and audit it (the caller checked ``actor`` is staff)."""
    file_id = file_id_of(loaded.doc_id)
    if file_id is None:
        raise ValueError(f"{loaded.doc_id!r} is not a Slack document's id")
    record = put_document(settings, store, loaded, source_of(file_id))
    _audit(db, actor, ADD, record.doc_id, record.title)
    return record


def remove(settings: Settings, db: Database, store: ChunkStore, doc_id: str, actor: str) -> DocRecord | None:
    """Take a Slack document out of the store, audit it and delete its kept file; ``None`` if it was not in."""
    file_id = file_id_of(doc_id)
    record = store.documents().get(doc_id) if file_id else None
    if record is None or not remove_document(settings, store, doc_id):
        return None
    _audit(db, actor, REMOVE, doc_id, record.title)
    shutil.rmtree(files_dir(settings) / str(file_id), ignore_errors=True)
    return record


@dataclass(frozen=True)
class Latest:
    """The latest add or remove audited for one document."""

    action: str
    note: str


def latest_actions(rows: Iterable[tuple[str, str, str | None]]) -> dict[str, Latest]:
    """(target, action, note) rows in audit order → each Slack document's latest add or remove."""
    latest: dict[str, Latest] = {}
    for target, action, note in rows:
        if action in (ADD, REMOVE) and target.startswith(FILES_PREFIX):
            latest[target] = Latest(action, note or "")
    return latest


def audited(db: Database) -> dict[str, Latest]:
    with db.session() as session:
        rows = session.execute(select(LoopAudit.target, LoopAudit.action, LoopAudit.note)
                               .where(LoopAudit.action.in_((ADD, REMOVE))).order_by(LoopAudit.id)).all()
    return latest_actions((r[0], r[1], r[2]) for r in rows)


def _is_added(latest: dict[str, Latest], file_id: str) -> bool:
    last = latest.get(doc_id_of(file_id))
    return last is not None and last.action == ADD


def discard_preview(settings: Settings, db: Database, file_id: str) -> bool:
    """Delete the kept file of ``file_id`` unless it is added (its preview was cancelled)."""
    folder = files_dir(settings) / file_id
    if not FILE_ID.match(file_id) or not folder.is_dir() or _is_added(audited(db), file_id):
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


def sweep_previews(settings: Settings, db: Database, now: float | None = None,
                   keep_s: float = PREVIEW_KEEP_S) -> list[str]:
    """Delete kept files older than ``keep_s`` that were never added (or removed since); their ids."""
    root = files_dir(settings)
    if not root.is_dir():
        return []
    latest = audited(db)
    cutoff = (time.time() if now is None else now) - keep_s
    swept = []
    for folder in sorted(root.iterdir()):
        if (folder.is_dir() and FILE_ID.match(folder.name) and not _is_added(latest, folder.name)
                and folder.stat().st_mtime < cutoff):
            shutil.rmtree(folder, ignore_errors=True)
            swept.append(folder.name)
    return swept


@dataclass(frozen=True)
class Added:
    """A document currently added: its latest audit is ``add_document`` (its file may be missing)."""

    doc_id: str
    file_id: str
    title: str
    path: Path | None


def added(settings: Settings, db: Database) -> list[Added]:
    """Documents whose latest audit action is ``add_document``, with their kept file when it is on disk."""
    out = []
    for doc_id, latest in audited(db).items():
        file_id = file_id_of(doc_id)
        if latest.action == ADD and file_id:
            out.append(Added(doc_id, file_id, latest.note, stored_file(settings, file_id)))
    return out


@dataclass
class SyncReport:
    in_knowledge: int = 0
    published: int = 0
    removed: int = 0
    missing: list[str] | None = None  # added, but no kept file (a backup without slack_files)
    failed: list[str] | None = None  # kept file no longer loads (limits changed, file damaged)

    def line(self) -> str:
        text = (f"documents added from Slack: {self.in_knowledge} in the knowledge base "
                f"({self.published} re-published, {self.removed} removed)")
        if self.missing:
            text += f"; ! {len(self.missing)} without their file in {FILES_DIR}/ ({', '.join(self.missing[:5])})"
        if self.failed:
            text += f"; ! {len(self.failed)} could not be loaded ({', '.join(self.failed[:5])})"
        return text


def sync(settings: Settings, db: Database, store: ChunkStore) -> SyncReport:
    """Put added documents the store lacks back in (from their kept files), take removed ones out."""
    report = SyncReport(missing=[], failed=[])
    stored = store.documents()
    latest = audited(db)
    for doc_id, last in latest.items():
        if last.action == REMOVE and doc_id in stored and remove_document(settings, store, doc_id):
            report.removed += 1
    for doc in added(settings, db):
        if doc.doc_id in stored:
            report.in_knowledge += 1
            continue
        if doc.path is None:
            report.missing.append(doc.file_id)
            continue
        try:
            loaded = load_stored(settings, doc.path, doc.file_id, doc.title or doc.path.stem)
            put_document(settings, store, loaded, source_of(doc.file_id))
        except LoadError as exc:
            report.failed.append(f"{doc.file_id}: {exc}")
            continue
        report.published += 1
        report.in_knowledge += 1
    return report
