"""Read side of the knowledge base: the live chunks, dense search and lexical search.

Only chunks listed in the manifest are live; anything else in Chroma (a half-written document
from an interrupted run) is invisible here.  Retrieval strategy (fusion, diversity, filters) is
the answer engine's business; this module only offers the two raw signals.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ingest.config import IngestSettings as Settings
from ingest.lexical import LexicalIndex, fingerprint
from ingest.normalize import normalize
from ingest.profiles import PROFILED_TYPES, CaseProfile, profile_for
from ingest.sentences import (
    CHUNK_VECTOR_KEY,
    UNITS_KEY,
    VECTORS_KEY,
    decode_vector,
    decode_vectors,
    unit_texts,
)
from ingest.store import ChunkStore, DocRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredChunk:
    id: str
    text: str
    meta: dict

    @property
    def title(self) -> str:
        return self.meta.get("title", "")

    @property
    def section(self) -> str:
        return self.meta.get("section", "")

    @property
    def page(self) -> int | None:
        return self.meta.get("page")

    @property
    def doc_id(self) -> str:
        return self.meta.get("doc_id", "")

    @property
    def doc_type(self) -> str:
        return self.meta.get("doc_type", "")


def _live_ids(docs: dict[str, DocRecord]) -> list[str]:
    return [cid for rec in docs.values() for cid in rec.chunk_ids]


def rebuild_lexical(settings: Settings, store: ChunkStore, docs: dict[str, DocRecord] | None = None,
                    directory=None) -> LexicalIndex:
    """Rebuild and persist the BM25 index from the tokens stored with the live chunks."""
    docs = store.documents() if docs is None else docs
    ids = _live_ids(docs)
    rows = store.read_chunks(ids) if ids else []
    by_id = {cid: (meta or {}).get("tokens", "") for cid, _text, meta in rows}
    ids = [cid for cid in ids if cid in by_id]
    index = LexicalIndex(ids, [by_id[cid].split() for cid in ids])
    index.save(directory or settings.lexical_dir / store.name)
    return index


Filter = Callable[[StoredChunk], bool]


@dataclass(frozen=True)
class UnitRef:
    """One sentence unit of a live chunk (see ``ingest.sentences``); ``row`` indexes the matrices."""

    row: int
    chunk_id: str
    heading: str
    text: str


class KnowledgeIndex:
    """In-memory view of the live chunks plus the persisted BM25 and the Chroma vectors."""

    def __init__(self, settings: Settings, store: ChunkStore | None = None) -> None:
        self.settings = settings
        self.store = store or ChunkStore(settings)
        self.reload()

    def reload(self) -> None:
        self.docs = self.store.documents()
        ids = _live_ids(self.docs)
        rows = self.store.read_chunks(ids) if ids else []
        self.chunks: dict[str, StoredChunk] = {cid: StoredChunk(cid, text, meta or {})
                                               for cid, text, meta in rows}
        directory = self.settings.lexical_dir / self.store.name
        live = [cid for cid in ids if cid in self.chunks]
        self.lexical = LexicalIndex.load(directory, fingerprint(live)) or rebuild_lexical(
            self.settings, self.store, self.docs, directory)
        self._position = {cid: i for i, cid in enumerate(self.lexical.ids)}
        self._load_vectors(live)
        self.profiles = self._load_profiles()

    def _load_profiles(self) -> dict[str, CaseProfile]:
        """``doc id → profile`` of the live case studies and agreements, as ingest stored them.

        Documents ingested before profiles existed get theirs derived here from their live chunks,
        once per reload (re-ingest stores them).
        """
        profiles: dict[str, CaseProfile] = {}
        missing: list[DocRecord] = []
        for doc_id, record in self.docs.items():
            if record.profile is not None:
                profiles[doc_id] = record.profile
            elif record.doc_type in PROFILED_TYPES:
                missing.append(record)
        for record in missing:
            chunks = sorted((self.chunks[c] for c in record.chunk_ids if c in self.chunks),
                            key=lambda c: c.meta.get("position", 0))
            profile = profile_for(record.doc_id, chunks[0].meta, chunks) if chunks else None
            if profile is not None:
                profiles[record.doc_id] = profile
        if missing:
            log.warning("%d cases/agreements have no stored profile (ingested by an older version); derived "
                        "them now — run `ppp-desk ingest` to store them", len(missing))
        return profiles

    def _load_vectors(self, live: list[str]) -> None:
        """Chunk and sentence-unit vectors in memory: a query is one embedding and two products.

        Chunks stored before units existed get theirs embedded here, once per process (re-ingest
        stores them).
        """
        self.chunk_ids = list(live)
        vectors: dict[str, np.ndarray] = {}
        for cid in live:
            blob = self.chunks[cid].meta.get(CHUNK_VECTOR_KEY)
            if blob:
                vectors[cid] = decode_vector(blob)
        absent = [cid for cid in live if cid not in vectors]
        if absent:  # stored by an older version: ask Chroma for them
            vectors.update({cid: np.asarray(v, dtype=np.float32)
                            for cid, v in self.store.read_vectors(absent).items()})
        dim = len(next(iter(vectors.values()))) if vectors else 0
        self.chunk_matrix = np.array([vectors[c] for c in live], dtype=np.float32).reshape(len(live), dim)
        self.units: list[UnitRef] = []
        blocks, unit_chunk, missing = [], [], []
        for pos, cid in enumerate(live):
            chunk = self.chunks[cid]
            raw, blob = chunk.meta.get(UNITS_KEY), chunk.meta.get(VECTORS_KEY)
            if raw is None or (blob is None and raw != "[]"):
                missing.append(cid)
                continue
            pairs = json.loads(raw)
            if not pairs:
                continue
            blocks.append(decode_vectors(blob, dim))
            for heading, text in pairs:
                self.units.append(UnitRef(len(self.units), cid, heading, text))
                unit_chunk.append(pos)
        if missing:
            log.warning("%d chunks have no sentence vectors (stored by an older version); embedding them "
                        "now — run `ppp-desk ingest` to store them", len(missing))
            for cid in missing:
                chunk = self.chunks[cid]
                units, texts = unit_texts(chunk.text, chunk.title, chunk.section, chunk.doc_type)
                if not units:
                    continue
                blocks.append(np.asarray(self.store.embeddings.embed_documents(texts), dtype=np.float32))
                for u in units:
                    self.units.append(UnitRef(len(self.units), cid, u.heading, u.text))
                    unit_chunk.append(live.index(cid))
        self.unit_matrix = np.vstack(blocks) if blocks else np.zeros((0, dim), dtype=np.float32)
        self.unit_chunk = np.array(unit_chunk, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.chunks)

    def dense(self, query: str, k: int, where: dict | None = None,
              keep: Filter | None = None) -> list[tuple[StoredChunk, float]]:
        """Top-k by cosine similarity of e5 vectors, live chunks only."""
        vector = self.store.embeddings.embed_query(normalize(query))
        return self.dense_by_vector(vector, k, where, keep)

    def dense_by_vector(self, vector: list[float], k: int, where: dict | None = None,
                        keep: Filter | None = None) -> list[tuple[StoredChunk, float]]:
        hits = self.store.query(vector, min(len(self.chunks), k * 2 + 4) or 1, where)
        out = []
        for cid, score in hits:
            chunk = self.chunks.get(cid)
            if chunk is not None and (keep is None or keep(chunk)):
                out.append((chunk, score))
        return out[:k]

    def lexical_search(self, query: str | list[str], k: int,
                       keep: Filter | None = None) -> list[tuple[StoredChunk, float]]:
        """Top-k by BM25 over Sudachi tokens, live chunks only; zero-score chunks are dropped."""
        scores = self.lexical.scores(query)
        if not len(scores):
            return []
        order = np.argsort(-scores)
        out = []
        for i in order:
            if scores[i] <= 0:
                break
            chunk = self.chunks.get(self.lexical.ids[i])
            if chunk is not None and (keep is None or keep(chunk)):
                out.append((chunk, float(scores[i])))
                if len(out) >= k:
                    break
        return out
