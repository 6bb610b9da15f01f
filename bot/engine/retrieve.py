"""Hybrid retrieval over the public knowledge base.

Dense (e5 cosine via Chroma) and lexical (BM25 over Sudachi tokens) rankings are fused.  Several
fusion strategies are kept side by side because the right one is an empirical question
(``bench/answer`` and ``ppp-desk eval`` compare them on the same questions); ``DEFAULT_MODE`` is the
measured winner.  Per-document diversity keeps one long document from crowding out the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ingest.index import KnowledgeIndex, StoredChunk

MODES = ("dense", "bm25", "rrf", "score")
DEFAULT_MODE = "score"
RRF_K = 60


@dataclass(frozen=True)
class Hit:
    chunk: StoredChunk
    score: float  # fused score used for ranking
    dense: float = 0.0  # cosine similarity (0 when the chunk was not in the dense list)
    lexical: float = 0.0  # BM25 score (0 when absent)


@dataclass(frozen=True)
class RetrievalParams:
    mode: str = DEFAULT_MODE
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    pool: int = 30  # candidates taken from each retriever before fusion
    per_doc: int = 3  # at most this many chunks of one document in the final list


def make_filter(doc_types: set[str] | None = None, doc_ids: set[str] | None = None
                ) -> Callable[[StoredChunk], bool] | None:
    """Metadata filter over doc_type and document id (None = everything)."""
    if not doc_types and not doc_ids:
        return None

    def keep(chunk: StoredChunk) -> bool:
        return (not doc_types or chunk.doc_type in doc_types) and (not doc_ids or chunk.doc_id in doc_ids)

    return keep


def _normalize_scores(pairs: list[tuple[StoredChunk, float]]) -> dict[str, float]:
    if not pairs:
        return {}
    values = [s for _, s in pairs]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return {c.id: (s - lo) / span if hi > lo else 1.0 for c, s in pairs}


def rrf(rankings: Iterable[Sequence[Any]], k: int = RRF_K,
        weights: Sequence[float] | None = None) -> dict[Any, float]:
    """Reciprocal rank fusion of several rankings (of any hashable keys), scaled so that first place
    in every ranking scores 1.0.  The one implementation: the engine and precedent search share it."""
    rankings = [list(r) for r in rankings]
    if not rankings:
        return {}
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    fused: dict[Any, float] = {}
    for weight, ranking in zip(weights, rankings, strict=True):
        for rank, key in enumerate(ranking):
            fused[key] = fused.get(key, 0.0) + weight / (k + rank + 1)
    top = sum(weights) / (k + 1) or 1.0
    return {key: score / top for key, score in fused.items()}


def fuse(dense: list[tuple[StoredChunk, float]], lexical: list[tuple[StoredChunk, float]],
         params: RetrievalParams) -> list[Hit]:
    """Combine two ranked lists into one (pure; see ``MODES``)."""
    chunks = {c.id: c for c, _ in dense} | {c.id: c for c, _ in lexical}
    dense_raw = {c.id: s for c, s in dense}
    lex_raw = {c.id: s for c, s in lexical}
    if params.mode == "dense":
        scores = dict(dense_raw)
    elif params.mode == "bm25":
        scores = dict(lex_raw)
    elif params.mode == "rrf":
        scores = rrf([[c.id for c, _ in dense], [c.id for c, _ in lexical]],
                     weights=[params.dense_weight, params.lexical_weight])
    elif params.mode == "score":
        dn, ln = _normalize_scores(dense), _normalize_scores(lexical)
        scores = {cid: params.dense_weight * dn.get(cid, 0.0) + params.lexical_weight * ln.get(cid, 0.0)
                  for cid in chunks}
    else:
        raise ValueError(f"unknown retrieval mode {params.mode!r}; choose one of {MODES}")
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    return [Hit(chunks[cid], s, dense_raw.get(cid, 0.0), lex_raw.get(cid, 0.0)) for cid, s in ranked]


def diversify(hits: list[Hit], k: int, per_doc: int) -> list[Hit]:
    """Top-k keeping at most ``per_doc`` chunks per document (order otherwise preserved)."""
    out, counts = [], {}
    for hit in hits:
        n = counts.get(hit.chunk.doc_id, 0)
        if n < per_doc:
            out.append(hit)
            counts[hit.chunk.doc_id] = n + 1
            if len(out) == k:
                break
    return out


class Retriever:
    def __init__(self, index: KnowledgeIndex, params: RetrievalParams | None = None) -> None:
        self.index = index
        self.params = params or RetrievalParams()

    def retrieve(self, query: str, k: int = 5, *, lexical_query: str | None = None,
                 keep: Callable[[StoredChunk], bool] | None = None,
                 params: RetrievalParams | None = None) -> list[Hit]:
        """Top-k chunks for ``query``; ``lexical_query`` lets BM25 see expanded terms."""
        p = params or self.params
        dense = self.index.dense(query, p.pool, keep=keep) if p.mode != "bm25" else []
        lexical = self.index.lexical_search(lexical_query or query, p.pool, keep=keep) \
            if p.mode != "dense" else []
        return diversify(fuse(dense, lexical, p), k, p.per_doc)
