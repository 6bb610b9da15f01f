"""Read side of the knowledge base: the live chunks, dense search and lexical search.

Only chunks listed in the manifest are live; anything else in Chroma (a half-written document
from an interrupted run) is invisible here.  Retrieval strategy (fusion, diversity, filters) is
the answer engine's business; this module only offers the two raw signals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ingest.config import Settings
from ingest.lexical import LexicalIndex, fingerprint
from ingest.normalize import normalize
from ingest.store import ChunkStore, DocRecord


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
