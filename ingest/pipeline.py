"""Ingest run: discover files, load, chunk, and write them into the store incrementally.

Per document the order is: add the new chunks → commit the manifest record → delete the chunks
it no longer has.  A run killed at any point leaves the previous or the new version of each
document visible (never a mix), and the next run removes whatever it left behind.  A file that
fails to load is reported and skipped; what the store already holds for it is kept.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from ingest.chunking import CHUNK_FORMAT, Chunk, chunk_document
from ingest.config import Settings
from ingest.index import rebuild_lexical
from ingest.lexical import tokenize
from ingest.loaders import LoadError, discover, doc_id_for, load
from ingest.sentences import unit_metadata
from ingest.store import ChunkStore, DocRecord

log = logging.getLogger(__name__)

# Chunks of several small documents are embedded and stored together: the model is several times
# faster per text in full batches than in the 2-6 text batches one case sheet gives, and Chroma
# pays per round trip.  128 = four of the e5 backend's batches of 32, one Chroma upsert.
EMBED_BATCH = 128

# Bump when loaders/normalization/chunking change in a way that alters chunks of unchanged files.
PIPELINE_VERSION = "8"


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    chunks_written: int = 0
    chunks_deleted: int = 0
    stray_swept: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                f"{len(self.pruned)} pruned, {len(self.errors)} failed; "
                f"{self.chunks_written} chunks written, {self.chunks_deleted + self.stray_swept} removed")


def file_hash(path: Path, settings: Settings) -> str:
    digest = hashlib.sha256(f"v{PIPELINE_VERSION}/{CHUNK_FORMAT}/{settings.chunk_chars}/".encode())
    digest.update(path.read_bytes())
    return digest.hexdigest()


def sweep_strays(store: ChunkStore, docs: dict[str, DocRecord]) -> int:
    """Delete chunks no manifest record owns (left by a run that was killed mid-document)."""
    live = {cid for rec in docs.values() for cid in rec.chunk_ids}
    stray = store.all_ids() - live
    store.delete_chunks(stray)
    return len(stray)


def _id_base(root: Path, knowledge_dir: Path) -> Path:
    """The folder document ids are relative to.

    A file or subfolder of the knowledge dir keeps the ids a full run gives it; otherwise
    ``ppp-desk ingest knowledge/cases`` would add every case a second time under another id.
    """
    target = root.parent.resolve() / root.name
    if knowledge_dir.resolve() in (target, *target.parents):
        return knowledge_dir
    return root if root.is_dir() else root.parent


def ingest(settings: Settings, source: Path | None = None, *, prune: bool = False,
           store: ChunkStore | None = None, progress: bool = True,
           on_document: Callable[[str], None] | None = None) -> IngestReport:
    """Ingest ``source`` (a file or directory, default the knowledge dir) into the store."""
    root = source or settings.knowledge_dir
    base = _id_base(root, settings.knowledge_dir)
    # With --prune, only documents under the ingested folder may be removed.
    rel = (root.parent.resolve() / root.name).relative_to(base.resolve()).as_posix()
    scope = "" if rel == "." else rel + "/"
    store = store or ChunkStore(settings)
    report = IngestReport()
    docs = store.documents()
    report.stray_swept = sweep_strays(store, docs)

    paths, _config_files = discover(root)
    seen_ids: set[str] = set()
    # Documents whose chunks wait to be embedded together: (new record, old record, chunks to add).
    pending: list[tuple[DocRecord, DocRecord | None, list[Chunk]]] = []

    def write_pending() -> None:
        """Embed the pending documents' chunks in full batches, then commit each document in order.

        The order stays: chunks stored → manifest records committed → chunks the documents no
        longer have deleted; a run killed anywhere in here leaves only strays for the next sweep.
        """
        missing = [c for _r, _o, chunks in pending for c in chunks]
        units = unit_metadata(missing, store.embeddings)
        store.add_chunks(missing, ({"tokens": " ".join(tokenize(c.context_text())), **u}
                                   for c, u in zip(missing, units, strict=True)))
        report.chunks_written += len(missing)
        store.commit_documents([record for record, _o, _c in pending])
        for record, old, _chunks in pending:
            if old:
                gone = set(old.chunk_ids) - set(record.chunk_ids)
                store.delete_chunks(gone)
                report.chunks_deleted += len(gone)
                report.updated.append(record.doc_id)
            else:
                report.added.append(record.doc_id)
            docs[record.doc_id] = record
            if on_document:
                on_document(record.doc_id)
        pending.clear()

    bar = tqdm(paths, desc="ingest", unit="file", disable=not progress, leave=False)
    for path in bar:
        doc_id = doc_id_for(path, base)
        bar.set_postfix_str(doc_id[-40:])
        if doc_id in seen_ids:
            report.errors.append((str(path), f"duplicate document id '{doc_id}' (same name, other suffix)"))
            continue
        seen_ids.add(doc_id)
        try:
            fhash = file_hash(path, settings)
        except OSError as exc:
            report.errors.append((str(path), f"cannot read file ({exc.strerror or exc})"))
            continue
        old = docs.get(doc_id)
        if old and old.file_hash == fhash:
            report.unchanged.append(doc_id)
            continue
        try:
            loaded = load(path, base)
            chunks = chunk_document(loaded, settings.chunk_chars)
        except LoadError as exc:
            report.errors.append((str(path), str(exc)))
            continue
        if not chunks:
            report.errors.append((str(path), "no text content after normalization"))
            continue
        new_ids = [c.id for c in chunks]
        present = store.existing_ids(new_ids)
        record = DocRecord(doc_id=doc_id, title=loaded.metadata["title"], doc_type=loaded.metadata["doc_type"],
                           file_hash=fhash, chunk_ids=tuple(new_ids),
                           ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
                           source_path=str(path))
        pending.append((record, old, [c for c in chunks if c.id not in present]))
        if sum(len(missing) for _r, _o, missing in pending) >= EMBED_BATCH:
            write_pending()
    write_pending()
    bar.close()

    if prune and root.is_dir():
        failed = {doc_id_for(Path(p), base) for p, _ in report.errors}
        for doc_id in sorted(d for d in set(docs) - seen_ids - failed if d.startswith(scope)):
            store.forget_document(doc_id)
            store.delete_chunks(docs[doc_id].chunk_ids)
            report.chunks_deleted += len(docs[doc_id].chunk_ids)
            report.pruned.append(doc_id)
            del docs[doc_id]

    rebuild_lexical(settings, store, docs)
    return report
