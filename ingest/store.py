"""The Chroma side of the knowledge base: chunk vectors plus a per-document manifest.

Chunks live in one collection (cosine space, e5 vectors computed by us — Chroma's own default
embedding function is never invoked).  A second, tiny collection holds one manifest record per
document: the file hash it was built from and the exact chunk ids that make it up.  The manifest
is written only after all of a document's chunks are stored, so readers that trust the manifest
never see half a document, even if an ingest run was killed midway; the next run sweeps stray
chunks away.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_core.embeddings import Embeddings

from ingest.chunking import Chunk
from ingest.config import IngestSettings as Settings
from ingest.embeddings import get_embeddings
from ingest.profiles import CaseProfile

MANIFEST_SUFFIX = "__docs"
_BATCH = 128
# Collection metadata that marks the staff-only space; see :class:`WallViolation`.
SPACE_KEY = "space"
INTERNAL_SPACE = "internal"


class WallViolation(RuntimeError):
    """The public store was asked to open the internal (staff-only) space.

    ``ChunkStore`` is what the business-facing answer path reads; refusing here means no question,
    prompt or misconfiguration can route that path to intake records.  The internal space is read
    only through ``bot.precedents.internal``, which never goes through this class.
    """


class EmbeddingModelMismatch(RuntimeError):
    """The collection was built with another embedding model; mixing vectors would be silent garbage."""


@dataclass(frozen=True)
class DocRecord:
    """One document's manifest entry.

    ``profile`` is the precedent profile of a case study or agreement (``ingest.profiles``),
    derived when the document was ingested so that precedent search never re-reads its chunks;
    None for other documents and for entries written before profiles existed.
    """

    doc_id: str
    title: str
    doc_type: str
    file_hash: str
    chunk_ids: tuple[str, ...]
    ingested_at: str
    source_path: str
    profile: CaseProfile | None = None

    def to_metadata(self) -> dict:
        meta = {"doc_id": self.doc_id, "title": self.title, "doc_type": self.doc_type,
                "file_hash": self.file_hash, "chunk_ids": json.dumps(list(self.chunk_ids)),
                "n_chunks": len(self.chunk_ids), "ingested_at": self.ingested_at,
                "source_path": self.source_path,
                # Always written, "" for none: Chroma's upsert merges metadata, so an absent key
                # would keep the profile of a document that is no longer a case.
                "profile": self.profile.to_json() if self.profile is not None else ""}
        return meta

    @classmethod
    def from_metadata(cls, meta: dict) -> DocRecord:
        return cls(doc_id=meta["doc_id"], title=meta.get("title", ""), doc_type=meta.get("doc_type", ""),
                   file_hash=meta.get("file_hash", ""), chunk_ids=tuple(json.loads(meta["chunk_ids"])),
                   ingested_at=meta.get("ingested_at", ""), source_path=meta.get("source_path", ""),
                   profile=CaseProfile.from_json(meta.get("profile")))


def open_client(settings: Settings, path: Path | None = None) -> chromadb.ClientAPI:
    """Embedded PersistentClient by default (in ``path``, default the knowledge store's folder); a
    Chroma server when CHROMA_HOST is set.  The one place a Chroma client is made."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                   settings=chroma_settings)
    path = path or settings.chroma_dir
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def document_titles(settings: Settings, collection: str | None = None) -> dict[str, str]:
    """``doc id → title`` of every ingested document, read from the manifest (PDFs included).

    Reads only the manifest collection: no embedding model is loaded, so edges that merely label
    citations (the records feature) stay light.
    """
    name = (collection or settings.collection) + MANIFEST_SUFFIX
    try:
        manifest = open_client(settings).get_collection(name, embedding_function=None)
    except Exception:  # noqa: BLE001 - NotFoundError type differs between client modes: nothing ingested
        return {}
    return {m["doc_id"]: m.get("title", "") for m in manifest.get(include=["metadatas"])["metadatas"] or []
            if m and m.get("doc_id")}


class ChunkStore:
    """Chunk vectors and the document manifest of one named collection."""

    def __init__(self, settings: Settings, collection: str | None = None,
                 embeddings: Embeddings | None = None, client: chromadb.ClientAPI | None = None) -> None:
        self.name = collection or settings.collection
        if self.name in {settings.internal_collection, settings.internal_collection + MANIFEST_SUFFIX}:
            raise WallViolation(f"collection '{self.name}' is the internal space; the public store never opens it")
        self.embeddings = embeddings or get_embeddings(settings)
        self.model_id = getattr(self.embeddings, "model_id", type(self.embeddings).__name__)
        self.client = client or open_client(settings)
        self._check_model()
        # chromadb directly: vectors are computed by us (``embedding_function=None`` — Chroma's
        # default function would download a model) and stored in one cosine collection.
        self.collection = self.client.get_or_create_collection(
            self.name, embedding_function=None, metadata={"embedding_model": self.model_id},
            configuration={"hnsw": {"space": "cosine"}})
        self.manifest = self.client.get_or_create_collection(
            self.name + MANIFEST_SUFFIX, embedding_function=None, metadata={"role": "manifest"})

    def _check_model(self) -> None:
        try:
            existing = self.client.get_collection(self.name, embedding_function=None)
        except Exception:  # noqa: BLE001 - NotFoundError type differs between client modes
            return
        if (existing.metadata or {}).get(SPACE_KEY) == INTERNAL_SPACE:
            raise WallViolation(f"collection '{self.name}' is marked internal; the public store never opens it")
        built_with = (existing.metadata or {}).get("embedding_model")
        if built_with and built_with != self.model_id:
            raise EmbeddingModelMismatch(
                f"collection '{self.name}' was built with embedding model '{built_with}', but the configured "
                f"model is '{self.model_id}'. Set EMBEDDINGS back, or ingest into a new collection "
                f"(PPP_COLLECTION) — vectors of two models are never mixed."
            )

    # --- manifest --------------------------------------------------------------------------------
    def documents(self) -> dict[str, DocRecord]:
        got = self.manifest.get(include=["metadatas"])
        return {m["doc_id"]: DocRecord.from_metadata(m) for m in got["metadatas"] or []}

    def commit_document(self, record: DocRecord) -> None:
        self.commit_documents([record])

    def commit_documents(self, records: Sequence[DocRecord]) -> None:
        """Make documents live (one round trip); call only after all their chunks are stored."""
        if records:
            self.manifest.upsert(ids=[r.doc_id for r in records], embeddings=[[1.0] for _ in records],
                                 metadatas=[r.to_metadata() for r in records])

    def forget_document(self, doc_id: str) -> None:
        self.manifest.delete(ids=[doc_id])

    # --- chunks ----------------------------------------------------------------------------------
    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            found.update(self.collection.get(ids=list(ids[start:start + 500]), include=[])["ids"])
        return found

    def all_ids(self) -> set[str]:
        return set(self.collection.get(include=[])["ids"])

    def add_chunks(self, chunks: Sequence[Chunk], extra_metadata: Iterable[dict] | None = None,
                   vectors: Sequence[list[float]] | None = None) -> None:
        """Embed (unless ``vectors`` are given) and store chunks in batches.

        Ids are content hashes, so re-adding is harmless.
        """
        extras = list(extra_metadata) if extra_metadata is not None else [{} for _ in chunks]
        for start in range(0, len(chunks), _BATCH):
            batch = chunks[start:start + _BATCH]
            vectors_of_batch = (list(vectors[start:start + _BATCH]) if vectors is not None
                                else self.embeddings.embed_documents([c.context_text() for c in batch]))
            metas = [{**c.metadata(), **x} for c, x in zip(batch, extras[start:start + _BATCH], strict=True)]
            self.collection.upsert(ids=[c.id for c in batch], embeddings=vectors_of_batch,
                                   documents=[c.text for c in batch], metadatas=metas)

    def delete_chunks(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for start in range(0, len(ids), 500):
            self.collection.delete(ids=ids[start:start + 500])

    def read_chunks(self, ids: Sequence[str] | None = None) -> list[tuple[str, str, dict]]:
        """(id, text, metadata) of the given chunks, or of every chunk."""
        got = self.collection.get(ids=list(ids) if ids is not None else None,
                                  include=["documents", "metadatas"])
        return list(zip(got["ids"], got["documents"], got["metadatas"], strict=True))

    def read_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """The stored e5 vectors of the given chunks (the engine keeps them in memory)."""
        out: dict[str, list[float]] = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):
            got = self.collection.get(ids=ids[start:start + 500], include=["embeddings"])
            out.update(zip(got["ids"], got["embeddings"], strict=True))
        return out

    def query(self, vector: list[float], k: int, where: dict | None = None) -> list[tuple[str, float]]:
        """Nearest chunks as (id, cosine similarity)."""
        if self.collection.count() == 0:
            return []
        res = self.collection.query(query_embeddings=[vector], n_results=k, where=where or None,
                                    include=["distances"])
        return [(cid, 1.0 - dist) for cid, dist in zip(res["ids"][0], res["distances"][0], strict=True)]
