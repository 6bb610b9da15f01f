"""Ingest run: discover files, load, chunk, and write them into the store incrementally.

Per document the order is: add the new chunks → commit the manifest record → delete the chunks
it no longer has.  A run killed at any point leaves the previous or the new version of each
document visible (never a mix), and the next run removes whatever it left behind.  A file that
fails to load — for whatever reason, including limits and tokenizer failures — is reported and
skipped alone; what the store already holds for it is kept.  ``--prune`` removes only documents
that came from the ingested folder.
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
from ingest.config import IngestSettings as Settings
from ingest.index import rebuild_lexical
from ingest.lexical import tokenize
from ingest.loaders import (
    EXTERNAL_PREFIX,
    Discovery,
    LoadedDocument,
    LoadError,
    LoadLimits,
    check_size,
    doc_id_for,
    load,
    located,
    scan,
)
from ingest.profiles import profile_for
from ingest.sentences import unit_metadata
from ingest.store import ChunkStore, DocRecord

log = logging.getLogger(__name__)

# Chunks of several small documents are embedded and stored together: the model is several times
# faster per text in full batches than in the 2-6 text batches one case sheet gives, and Chroma
# pays per round trip.  128 = four of the e5 backend's batches of 32, one Chroma upsert.
EMBED_BATCH = 128

# Bump when loaders/normalization/chunking change in a way that alters chunks of unchanged files.
# 8: UTF-8 BOMs dropped, legacy Japanese encodings decoded, over-long runs broken into lines;
# sentence units and their vectors stored with every chunk.
# 9: case profiles stored in the manifest (chunk ids are unchanged, so nothing is re-embedded).
PIPELINE_VERSION = "9"


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    # Dotfiles and dot-folders: named, never read, and not a failure (a .git folder or .DS_Store
    # in a shared folder is normal and must not turn every run's exit status to 1).
    skipped: list[tuple[str, str]] = field(default_factory=list)
    chunks_written: int = 0
    chunks_deleted: int = 0
    stray_swept: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                f"{len(self.pruned)} pruned, {len(self.errors)} failed{skipped}; "
                f"{self.chunks_written} chunks written, {self.chunks_deleted + self.stray_swept} removed")


class IngestInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run.  It carries the report so far, so the bad files already found are still
    named; documents committed before the interrupt stay, the next run sweeps the rest."""

    def __init__(self, report: IngestReport) -> None:
        super().__init__("ingest interrupted")
        self.report = report


def file_hash(path: Path, settings: Settings) -> str:
    digest = hashlib.sha256(f"v{PIPELINE_VERSION}/{CHUNK_FORMAT}/{settings.chunk_chars}/".encode())
    digest.update(path.read_bytes())
    return digest.hexdigest()


def load_limits(settings: Settings) -> LoadLimits:
    return LoadLimits(max_file_bytes=int(settings.max_file_mb * 1_000_000), max_pages=settings.max_pages)


def sweep_strays(store: ChunkStore, docs: dict[str, DocRecord]) -> int:
    """Delete chunks no manifest record owns (left by a run that was killed mid-document)."""
    live = {cid for rec in docs.values() for cid in rec.chunk_ids}
    stray = store.all_ids() - live
    store.delete_chunks(stray)
    return len(stray)


def _under(path: Path, folder: Path) -> bool:
    return folder == path or folder in path.parents


def _source_under(record: DocRecord, folder: Path) -> bool | None:
    """Whether the document's recorded source file lies under ``folder`` (resolved); None if unknown."""
    source = Path(record.source_path) if record.source_path else None
    if source is None or not source.is_absolute():
        return None  # older runs stored the path as given on the command line
    return _under(located(source), folder)


def prune_scope(root: Path, knowledge_dir: Path) -> Callable[[str, DocRecord], bool]:
    """Which stored documents ``--prune`` of ``root`` may remove: exactly those that came from it.

    Inside the knowledge dir that is the ids under the folder (ids are paths there), minus any
    document whose source file was elsewhere.  Outside it, only documents whose source file lies
    under ``root`` — ``ingest /tmp/x --prune`` once deleted the whole knowledge base.
    """
    real_root, real_knowledge = located(root), knowledge_dir.resolve()
    if _under(real_root, real_knowledge):
        rel = real_root.relative_to(real_knowledge).as_posix()
        prefix = "" if rel == "." else rel + "/"
        return lambda doc_id, rec: (doc_id.startswith(prefix) and not doc_id.startswith(EXTERNAL_PREFIX)
                                    and not doc_id.startswith(PUBLISHED_PREFIX)
                                    and _source_under(rec, real_knowledge) is not False)
    return lambda _doc_id, rec: _source_under(rec, real_root) is True


# Documents written into the store by the application (approved desk answers), not from files:
# no folder's --prune touches them; they come and go through put_document / remove_document.
PUBLISHED_PREFIX = "desk-answers/"


def manifest_record(loaded: LoadedDocument, chunks: list[Chunk], digest: str, source: str, *,
                    doc_id: str | None = None) -> DocRecord:
    """The manifest entry of a chunked document, with its case profile when it is a precedent.

    The profile is derived here, from the chunks just made, so that precedent search reads it
    instead of re-reading every chunk of every case at query time.
    """
    doc_id = doc_id or loaded.doc_id
    return DocRecord(doc_id=doc_id, title=loaded.metadata["title"], doc_type=loaded.metadata["doc_type"],
                     file_hash=digest, chunk_ids=tuple(c.id for c in chunks),
                     ingested_at=datetime.now(UTC).isoformat(timespec="seconds"), source_path=source,
                     profile=profile_for(doc_id, loaded.metadata, chunks))


def check_chunks(chunks: list[Chunk], settings: Settings) -> list[Chunk]:
    """``chunks``, or :class:`LoadError` when there are none or more than ``PPP_MAX_CHUNKS``.

    One check for every way into the store: files ingested, documents added without a file.
    """
    if not chunks:
        raise LoadError("no text content after normalization")
    if len(chunks) > settings.max_chunks:
        raise LoadError(f"too many chunks ({len(chunks)} > {settings.max_chunks}, PPP_MAX_CHUNKS); "
                        f"split the document or raise the limit")
    return chunks


def text_hash(text: str) -> str:
    """The manifest hash of a document that has no file: its text under this pipeline's version."""
    return hashlib.sha256(f"v{PIPELINE_VERSION}/{CHUNK_FORMAT}/".encode() + text.encode()).hexdigest()


def put_document(settings: Settings, store: ChunkStore, loaded: LoadedDocument, source: str) -> DocRecord:
    """Store one document that has no file (an approved answer): chunks, units, vectors, manifest.

    The same chunking, sentence units and embeddings as ``ingest``, in the same order (chunks →
    manifest → old chunks deleted), so it is cited and retrieved like any other passage.
    """
    if not loaded.doc_id.startswith(PUBLISHED_PREFIX):
        raise ValueError(f"document id {loaded.doc_id!r} must start with {PUBLISHED_PREFIX!r}")
    chunks = check_chunks(chunk_document(loaded, settings.chunk_chars), settings)
    old = store.documents().get(loaded.doc_id)
    present = store.existing_ids([c.id for c in chunks])
    missing = [c for c in chunks if c.id not in present]
    if missing:
        units, vectors = unit_metadata(missing, store.embeddings)
        store.add_chunks(missing, [{"tokens": " ".join(tokenize(c.context_text())), **u}
                                   for c, u in zip(missing, units, strict=True)], vectors)
    record = manifest_record(loaded, chunks, text_hash(loaded.text), source)
    store.commit_documents([record])
    if old:
        store.delete_chunks(set(old.chunk_ids) - set(record.chunk_ids))
    rebuild_lexical(settings, store)
    return record


def remove_document(settings: Settings, store: ChunkStore, doc_id: str) -> bool:
    """Take a document out of the store (manifest first, so readers stop seeing it at once)."""
    record = store.documents().get(doc_id)
    if record is None:
        return False
    store.forget_document(doc_id)
    store.delete_chunks(record.chunk_ids)
    rebuild_lexical(settings, store)
    return True


def _reason(exc: Exception) -> str:
    """One line for a failure no loader anticipated (a bug or a library's limit), naming its type."""
    detail = " ".join(str(exc).split())[:160]
    return f"unexpected error ({exc.__class__.__name__}{': ' + detail if detail else ''})"


@dataclass
class _Prepared:
    """A document ready to be written: its manifest record, the old one, chunks to embed, their tokens."""

    record: DocRecord
    old: DocRecord | None
    chunks: list[Chunk]
    tokens: list[str]


def _prepare(path: Path, doc_id: str, fhash: str, old: DocRecord | None, settings: Settings,
             store: ChunkStore) -> _Prepared:
    """Load, chunk and tokenize one file; raises :class:`LoadError` (or anything) for that file alone."""
    loaded = load(path, settings.knowledge_dir, load_limits(settings))
    chunks = check_chunks(chunk_document(loaded, settings.chunk_chars), settings)
    new_ids = [c.id for c in chunks]
    present = store.existing_ids(new_ids)
    missing = [c for c in chunks if c.id not in present]
    # Tokenized here, per file, so that a text the tokenizer refuses fails this file only.
    tokens = [" ".join(tokenize(c.context_text())) for c in missing]
    record = manifest_record(loaded, chunks, fhash, str(located(path)), doc_id=doc_id)
    return _Prepared(record, old, missing, tokens)


def ingest(settings: Settings, source: Path | None = None, *, prune: bool = False,
           store: ChunkStore | None = None, progress: bool = True,
           on_document: Callable[[str], None] | None = None) -> IngestReport:
    """Ingest ``source`` (a file or directory, default the knowledge dir) into the store.

    Raises :class:`IngestInterrupted` (a ``KeyboardInterrupt``) with the report so far on Ctrl-C.
    """
    root = source or settings.knowledge_dir
    store = store or ChunkStore(settings)
    report = IngestReport()
    try:
        _run(settings, root, prune, store, report, progress, on_document)
    except KeyboardInterrupt as exc:
        raise IngestInterrupted(report) from exc
    return report


def _run(settings: Settings, root: Path, prune: bool, store: ChunkStore, report: IngestReport,
         progress: bool, on_document: Callable[[str], None] | None) -> None:
    docs = store.documents()
    report.stray_swept = sweep_strays(store, docs)
    found = scan(root)
    bar = tqdm(total=len(found.documents), desc="ingest", unit="file", disable=not progress, leave=False)
    try:
        _ingest_found(settings, root, prune, store, report, bar, on_document, docs, found)
    finally:
        bar.close()


def _ingest_found(settings: Settings, root: Path, prune: bool, store: ChunkStore, report: IngestReport,
                  bar: tqdm, on_document: Callable[[str], None] | None, docs: dict[str, DocRecord],
                  found: Discovery) -> None:
    report.errors.extend((str(p), reason) for p, reason in found.refused)
    report.skipped.extend((str(p), reason) for p, reason in found.hidden)
    limits = load_limits(settings)
    seen_ids: set[str] = set()
    failed_ids: set[str] = set()
    pending: list[_Prepared] = []

    def write_pending() -> None:
        """Embed the pending documents' chunks in full batches, then commit each document in order.

        The order stays: chunks stored → manifest records committed → chunks the documents no
        longer have deleted; a run killed anywhere in here leaves only strays for the next sweep.
        """
        missing = [c for p in pending for c in p.chunks]
        tokens = [t for p in pending for t in p.tokens]
        for start in range(0, len(missing), EMBED_BATCH):
            batch = missing[start:start + EMBED_BATCH]
            units, vectors = unit_metadata(batch, store.embeddings)
            store.add_chunks(batch, [{"tokens": t, **u} for t, u in
                                     zip(tokens[start:start + EMBED_BATCH], units, strict=True)], vectors)
            report.chunks_written += len(batch)
            # Per batch, not per file: one large document must not freeze the bar for minutes.
            bar.set_postfix_str(f"{min(start + EMBED_BATCH, len(missing))}/{len(missing)} chunks embedded")
        store.commit_documents([p.record for p in pending])
        for p in pending:
            if p.old:
                gone = set(p.old.chunk_ids) - set(p.record.chunk_ids)
                store.delete_chunks(gone)
                report.chunks_deleted += len(gone)
                report.updated.append(p.record.doc_id)
            else:
                report.added.append(p.record.doc_id)
            docs[p.record.doc_id] = p.record
            if on_document:
                on_document(p.record.doc_id)
        pending.clear()

    def fail(path: Path, doc_id: str, reason: str) -> None:
        report.errors.append((str(path), reason))
        failed_ids.add(doc_id)

    for path in found.documents:
        bar.update()
        doc_id = doc_id_for(path, settings.knowledge_dir)
        bar.set_postfix_str(doc_id[-40:])
        if doc_id in seen_ids:
            report.errors.append((str(path), f"duplicate document id '{doc_id}' (same name, other suffix)"))
            continue
        seen_ids.add(doc_id)
        try:
            check_size(path, limits)  # before hashing: the hash reads the whole file
            fhash = file_hash(path, settings)
        except LoadError as exc:
            fail(path, doc_id, str(exc))
            continue
        except OSError as exc:
            fail(path, doc_id, f"cannot read file ({exc.strerror or exc})")
            continue
        old = docs.get(doc_id)
        if old and old.file_hash == fhash:
            report.unchanged.append(doc_id)
            continue
        try:
            pending.append(_prepare(path, doc_id, fhash, old, settings, store))
        except LoadError as exc:
            fail(path, doc_id, str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 - any file must fail alone, whatever breaks inside
            log.debug("ingest of %s failed", path, exc_info=True)
            fail(path, doc_id, _reason(exc))
            continue
        if sum(len(p.chunks) for p in pending) >= EMBED_BATCH:
            write_pending()
    write_pending()

    if prune and root.is_dir():
        # Refused links are not protected: a secret ingested through one must go with --prune.
        in_scope = prune_scope(root, settings.knowledge_dir)
        for doc_id in sorted(d for d in set(docs) - seen_ids - failed_ids if in_scope(d, docs[d])):
            store.forget_document(doc_id)
            store.delete_chunks(docs[doc_id].chunk_ids)
            report.chunks_deleted += len(docs[doc_id].chunk_ids)
            report.pruned.append(doc_id)
            del docs[doc_id]

    rebuild_lexical(settings, store, docs)
