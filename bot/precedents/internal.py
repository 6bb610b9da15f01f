"""The INTERNAL knowledge space: intake records, searchable by desk staff only.

Records live in their own Chroma collection (``Settings.internal_collection``), in their own embedded
store (``Settings.internal_dir``), marked ``space: internal`` — and are read only through
:class:`InternalIndex`.  The business-facing path reads through ``ingest.store.ChunkStore``, which
refuses that name and that marker (``WallViolation``), and nothing in ``bot/engine`` imports this
module.  So the separation is a property of the retrieval layer, not of a prompt.

The records feature keeps the index current through ``bot.precedents.space.PrecedentSpace``: a
saved record is upserted (replacing its previous chunks), a deleted one removed.  Chroma is the
durable store shared by every worker process; each process keeps a derived in-memory view (record
metadata, a vector matrix for exact filtered cosine search, BM25 over Sudachi tokens) and reloads
it after every write, its own or another process's (a write counter in a tiny side collection).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import chromadb
import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter

from bot.config import Settings
from bot.precedents.filters import NO_FILTERS, Filters, fold, matches, parse_scheme
from ingest.embeddings import get_embeddings
from ingest.lexical import LexicalIndex, tokenize
from ingest.normalize import normalize
from ingest.store import INTERNAL_SPACE, SPACE_KEY, open_client

log = logging.getLogger(__name__)

STATE_SUFFIX = "__state"
# The records feature stores what a business asks of the city as codes (bot/records/fields.py);
# they are indexed and shown in the desk's words.  Unknown codes stay as they are.
ASK_LABELS = {"field": "実証フィールド", "data": "行政データ", "pr": "PR・広報", "regulation": "規制緩和の検討",
              "premises": "活動拠点・施設", "other": "その他"}
_BATCH = 256


class InternalStoreError(RuntimeError):
    """The internal collection is unusable as configured (e.g. built with another embedding model)."""


# --- pure: a record as the index sees it -------------------------------------------------------------
@dataclass(frozen=True)
class RecordView:
    """The searchable, displayable part of an intake record (tolerant of missing keys)."""

    record_id: str
    title: str
    org_name: str = ""
    summary: str = ""
    asks: str = ""
    status: str = ""
    scheme: str = ""
    proposal_kind: str = ""
    field: str = ""
    city: str = ""
    year: int | None = None
    created_at: str = ""
    link: str = ""

    def body(self) -> str:
        """Text that is embedded and tokenized: what the proposal is about, in the record's words."""
        parts = [self.title, self.org_name, self.summary]
        if self.field:
            parts.append(f"分野: {self.field}")
        if self.asks:
            parts.append(f"市への依頼: {self.asks}")
        return "\n".join(p for p in parts if p)

    def to_metadata(self) -> dict[str, Any]:
        meta = {k: v for k, v in self.__dict__.items() if v not in (None, "")}
        return meta

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> RecordView:
        known = {k: meta[k] for k in cls.__dataclass_fields__ if k in meta}
        return cls(**{"title": "", **known})


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        value = [k for k, v in value.items() if v]
    if isinstance(value, list | tuple | set | frozenset):
        return "、".join(fold(str(v)) for v in value if str(v).strip())
    return fold(str(value))


def _year_of(value: Any) -> int | None:
    if isinstance(value, datetime | date):
        return value.year
    text = str(value or "")[:4]
    return int(text) if text.isdigit() else None


def record_view(record: dict[str, Any], default_city: str = "") -> RecordView:
    """Read a records-feature dict (any subset of its keys) into a :class:`RecordView`.

    Records belong to the desk's own city unless they say otherwise, so city filters treat them
    like that city's cases.  Scheme words are canonicalised like query filters (パートナーシップ →
    ``partnership``); an undecided scheme stays as written (``未定``).
    """
    rid = str(record.get("id") or record.get("record_id") or "").strip()
    if not rid:
        raise ValueError("record has no id")
    scheme_raw = _as_text(record.get("scheme"))
    asks = record.get("asks")
    created = record.get("created_at")
    return RecordView(
        record_id=rid,
        title=_as_text(record.get("title")) or rid,
        org_name=_as_text(record.get("org_name") or record.get("org") or record.get("organization")),
        summary=_as_text(record.get("summary")),
        asks=_as_text([ASK_LABELS.get(str(a), str(a)) for a in asks] if isinstance(asks, list | tuple) else asks),
        status=_as_text(record.get("status")).lower(),
        scheme=parse_scheme(scheme_raw) or scheme_raw.lower(),
        proposal_kind=_as_text(record.get("kind")),
        field=_as_text(record.get("field") or record.get("theme") or record.get("city_issue")),
        city=_as_text(record.get("city")) or default_city,
        year=_year_of(created),
        created_at=created.isoformat() if isinstance(created, datetime | date) else _as_text(created),
        # The desk card first: that is where staff continue; the business thread second.
        link=_as_text(record.get("desk_permalink") or record.get("link") or record.get("card_permalink")
                      or record.get("permalink") or record.get("url")),
    )


def record_passages(view: RecordView, max_chars: int) -> list[str]:
    """One passage per record unless it is long; later passages repeat the title for context."""
    body = normalize(view.body())
    if len(body) <= max_chars:
        return [body]
    splitter = RecursiveCharacterTextSplitter(separators=["\n\n", "\n", "。", "！", "？", "!", "?"],
                                              keep_separator="end", chunk_size=max_chars, chunk_overlap=0)
    pieces = [p.strip() for p in splitter.split_text(body) if p.strip()]
    return [pieces[0]] + [f"{view.title}\n{p}" for p in pieces[1:]]


def record_matches(view: RecordView, filters: Filters) -> bool:
    return matches(filters, kind="record", scheme=view.scheme, city=view.city, year=view.year,
                   field_text=" ".join((view.field, view.title, view.summary)), status=view.status)


# --- I/O: the Chroma side ------------------------------------------------------------------------------
def open_internal_client(settings: Settings) -> chromadb.ClientAPI:
    """The internal space's own embedded store (or the shared Chroma server, guarded by name/marker)."""
    return open_client(settings, settings.internal_dir / "chroma")


@dataclass
class _View:
    """Derived in-memory state of one process; rebuilt from Chroma when others wrote."""

    seen: int = -1  # writes reflected (count of the side collection)
    records: dict[str, RecordView] = field(default_factory=dict)
    chunk_ids: list[str] = field(default_factory=list)
    chunk_record: list[str] = field(default_factory=list)
    chunk_tokens: list[list[str]] = field(default_factory=list)
    chunk_texts: list[str] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    lexical: LexicalIndex | None = None  # None: stale, rebuilt on the next lexical search
    # Filter masks over records, cached per Filters value (paging repeats the same filters).
    record_order: list[str] = field(default_factory=list)
    record_pos: dict[str, int] = field(default_factory=dict)
    chunk_rec: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    masks: dict[Filters, np.ndarray] = field(default_factory=dict)

    def index_records(self) -> _View:
        """Positions of records and of each passage's record (after the lists are filled)."""
        self.record_order = list(self.records)
        self.record_pos = {rid: i for i, rid in enumerate(self.record_order)}
        self.chunk_rec = np.fromiter((self.record_pos.get(r, -1) for r in self.chunk_record), dtype=np.int64,
                                     count=len(self.chunk_record))
        return self

    def record_mask(self, filters: Filters) -> np.ndarray:
        """Which records (in ``record_order``) pass ``filters``; cached per Filters value."""
        mask = self.masks.get(filters)
        if mask is None:
            mask = np.fromiter((record_matches(self.records[r], filters) for r in self.record_order),
                               dtype=bool, count=len(self.record_order))
            if len(self.masks) > 64:
                self.masks.clear()
            self.masks[filters] = mask
        return mask

    def chunk_mask(self, filters: Filters, exclude: Iterable[str]) -> np.ndarray | None:
        """Which passages belong to records passing ``filters`` and not excluded (None: all)."""
        excluded = [self.record_pos[r] for r in exclude if r in self.record_pos]
        if filters.empty and not excluded:
            return None
        mask = self.record_mask(filters).copy()
        mask[excluded] = False
        return np.append(mask, False)[self.chunk_rec]  # position -1 (no record) reads the False


class InternalIndex:
    """Intake records: upsert / delete / dense + lexical search, restricted by :class:`Filters`."""

    def __init__(self, settings: Settings, embeddings: Embeddings | None = None,
                 client: chromadb.ClientAPI | None = None, default_city: str | None = None) -> None:
        if settings.internal_collection == settings.collection:
            raise InternalStoreError("the internal collection must differ from the public one")
        self.settings = settings
        self.name = settings.internal_collection
        self.embeddings = embeddings or get_embeddings(settings)
        self.model_id = getattr(self.embeddings, "model_id", type(self.embeddings).__name__)
        self.client = client or open_internal_client(settings)
        self.default_city = _desk_city(settings) if default_city is None else default_city
        self.collection = self._open_collection()
        self.state = self.client.get_or_create_collection(
            self.name + STATE_SUFFIX, embedding_function=None, metadata={SPACE_KEY: INTERNAL_SPACE})
        self._lock = threading.RLock()
        self._view = _View()
        self.refresh(force=True)

    def _open_collection(self) -> chromadb.Collection:
        collection = self.client.get_or_create_collection(
            self.name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}},
            metadata={SPACE_KEY: INTERNAL_SPACE, "embedding_model": self.model_id})
        meta = collection.metadata or {}
        if meta.get(SPACE_KEY) != INTERNAL_SPACE:
            raise InternalStoreError(f"collection '{self.name}' exists but is not marked internal")
        if meta.get("embedding_model") not in (None, self.model_id):
            raise InternalStoreError(
                f"collection '{self.name}' was built with '{meta.get('embedding_model')}', the configured "
                f"model is '{self.model_id}'; re-index the records into a new PPP_INTERNAL_COLLECTION")
        return collection

    # --- freshness between processes ----------------------------------------------------------------
    # Every write adds one row to the side collection and rows are never removed, so its count is a
    # monotonic write counter: a process whose view has seen N writes reloads when the count is not N.
    def _writes(self) -> int:
        return self.state.count()

    def _mark_write(self) -> int:
        self.state.add(ids=[uuid.uuid4().hex], embeddings=[[1.0]])
        return self._writes()

    def _written(self) -> None:
        """Count this write for every process and reload this one's view (reload-on-write)."""
        self._mark_write()
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Reload the in-memory view if another process (or a restart) changed the collection."""
        seen = self._writes()
        with self._lock:
            if not force and seen == self._view.seen:
                return
            got = self.collection.get(include=["metadatas", "embeddings", "documents"])
            embeddings = got.get("embeddings")
            view = _View(seen=seen)
            vectors: list[Any] = []
            for cid, meta, vec, text in zip(got["ids"], got["metadatas"] or [],
                                            embeddings if embeddings is not None else [], got["documents"] or [],
                                            strict=True):
                meta = meta or {}
                rid = str(meta.get("record_id", ""))
                if not rid:
                    continue
                if int(meta.get("part", 0)) == 0:
                    view.records[rid] = RecordView.from_metadata(meta)
                view.chunk_ids.append(cid)
                view.chunk_record.append(rid)
                view.chunk_tokens.append(str(meta.get("tokens", "")).split())
                view.chunk_texts.append(text or "")
                vectors.append(vec)
            view.vectors = _unit(np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)) \
                if vectors else np.zeros((0, 0), dtype=np.float32)
            previous = self._view
            if previous.chunk_ids == view.chunk_ids and previous.chunk_tokens == view.chunk_tokens:
                view.lexical = previous.lexical  # same passages (a status change): BM25 stays valid
            self._view = view.index_records()

    # --- writes ------------------------------------------------------------------------------------
    def upsert(self, record: dict[str, Any]) -> RecordView:
        """Index (or re-index) one record; its earlier chunks are replaced, never left behind."""
        return self.upsert_many([record])[0]

    def upsert_many(self, records: Iterable[dict[str, Any]],
                    vectors: list[list[float]] | None = None) -> list[RecordView]:
        """Index records in batches (``vectors``, one per passage in order, skips embedding: benchmarks)."""
        views = [record_view(r, self.default_city) for r in records]
        ids: list[str] = []
        docs: list[str] = []
        metas: list[dict[str, Any]] = []
        for view in views:
            for part, text in enumerate(record_passages(view, self.settings.chunk_chars)):
                ids.append(f"{view.record_id}::{part}")
                docs.append(text)
                meta = view.to_metadata() if part == 0 else {"record_id": view.record_id}
                metas.append({**meta, "part": part, "tokens": " ".join(tokenize(text))})
        if vectors is None:
            vectors = self._vectors_for(ids, docs)
        if len(vectors) != len(docs):
            raise ValueError(f"{len(vectors)} vectors for {len(docs)} passages")
        with self._lock:
            for start in range(0, len(ids), 1000):
                self.collection.upsert(ids=ids[start:start + 1000], embeddings=vectors[start:start + 1000],
                                       documents=docs[start:start + 1000], metadatas=metas[start:start + 1000])
            keep = set(ids)
            rids = [v.record_id for v in views]
            stale: list[str] = []
            for start in range(0, len(rids), 500):
                old = self.collection.get(where={"record_id": {"$in": rids[start:start + 500]}}, include=[])
                stale.extend(cid for cid in old["ids"] if cid not in keep)
            if stale:
                self.collection.delete(ids=stale)
            self._written()
        return views

    def _vectors_for(self, ids: list[str], docs: list[str]) -> list[list[float]]:
        """Embed the passages, reusing the vector of any passage whose text did not change.

        A status change re-saves the whole record; its text, and so its vector, stays the same.
        """
        view = self._view
        pos = {cid: i for i, cid in enumerate(view.chunk_ids)}
        out: list[list[float] | None] = []
        for cid, text in zip(ids, docs, strict=True):
            i = pos.get(cid)
            same = i is not None and i < len(view.chunk_texts) and view.chunk_texts[i] == text
            out.append(view.vectors[i].tolist() if same else None)
        todo = [j for j, v in enumerate(out) if v is None]
        for start in range(0, len(todo), _BATCH):
            batch = todo[start:start + _BATCH]
            for j, vec in zip(batch, self.embeddings.embed_documents([docs[j] for j in batch]), strict=True):
                out[j] = vec
        return [v for v in out if v is not None]

    def delete(self, record_id: str) -> bool:
        """Remove every chunk of a record; True when something was removed."""
        record_id = str(record_id)
        with self._lock:
            old = self.collection.get(where={"record_id": record_id}, include=[])["ids"]
            if old:
                self.collection.delete(ids=old)
            self._written()
        return bool(old)

    # --- reads -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._view.records)

    def get(self, record_id: str) -> RecordView | None:
        return self._view.records.get(str(record_id))

    def records(self) -> dict[str, RecordView]:
        self.refresh()
        return dict(self._view.records)

    def allowed(self, filters: Filters, exclude: Iterable[str] = ()) -> list[str] | None:
        """Record ids passing ``filters`` (None: no restriction at all)."""
        view = self._view
        excluded = set(exclude)
        if filters.empty and not excluded:
            return None
        mask = view.record_mask(filters)
        return [view.record_order[i] for i in np.flatnonzero(mask) if view.record_order[i] not in excluded]

    def dense(self, vector: list[float], k: int, filters: Filters = NO_FILTERS,
              exclude: Iterable[str] = ()) -> list[tuple[RecordView, float]]:
        """Top-k records by exact cosine over their passages (max per record), filters applied first."""
        self.refresh()
        view = self._view
        if not view.chunk_ids or k <= 0 or filters.kind not in ("", "record"):
            return []
        q = _unit(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
        sims = view.vectors @ q
        mask = view.chunk_mask(filters, exclude)
        if mask is not None:
            sims = np.where(mask, sims, -np.inf)
        return _top(view, sims, k)

    def lexical(self, query: str | list[str], k: int, filters: Filters = NO_FILTERS,
                exclude: Iterable[str] = ()) -> list[tuple[RecordView, float]]:
        """Top-k records by BM25 over their passages (max per record); zero scores dropped."""
        self.refresh()
        if k <= 0 or filters.kind not in ("", "record"):
            return []
        with self._lock:
            view = self._view
            if view.lexical is None:
                view.lexical = LexicalIndex(view.chunk_ids, view.chunk_tokens)
        scores = np.asarray(view.lexical.scores(query), dtype=np.float32)
        if not len(scores):
            return []
        mask = view.chunk_mask(filters, exclude)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        scores = np.where(scores > 0, scores, -np.inf)
        return _top(view, scores, k)


def _top(view: _View, scores: np.ndarray, k: int) -> list[tuple[RecordView, float]]:
    """Best ``k`` records from per-passage scores (a record counts once, with its best passage)."""
    if not len(scores):
        return []
    out: list[tuple[RecordView, float]] = []
    seen: set[str] = set()
    n = min(len(scores), max(k * 4, k + 8))
    while True:
        order = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        order = order[np.argsort(-scores[order], kind="stable")]
        out.clear()
        seen.clear()
        for i in order:
            if not np.isfinite(scores[i]):
                break
            rid = view.chunk_record[i]
            if rid in seen or rid not in view.records:
                continue
            seen.add(rid)
            out.append((view.records[rid], float(scores[i])))
            if len(out) >= k:
                return out
        if n >= len(scores) or (len(order) and not np.isfinite(scores[order[-1]])):
            return out
        n = min(len(scores), n * 4)  # many passages of few records: look further


def _unit(matrix: np.ndarray) -> np.ndarray:
    if not matrix.size:
        return matrix
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def _desk_city(settings: Settings) -> str:
    try:
        from bot.city import load_city

        return load_city(settings.knowledge_dir).city
    except (OSError, ValueError, KeyError):
        return ""
