"""The staff-only precedent space of one process: the internal index and the searcher over both spaces.

Built once by whoever starts the process (``build_app`` for Slack, the CLI for ``ppp-desk
precedents``) and handed down, instead of module-level caches keyed by settings.  Opening it is
lazy: the embedding model and Chroma are only touched by the first search or record write, so a
Slack app whose staff never search starts as fast as before, and a broken internal store fails that
search politely instead of the whole start-up.

The records feature calls :meth:`PrecedentSpace.record_saved` / :meth:`record_deleted` directly
(the records service is constructed with this object as a listener), which is what keeps the
internal index current.
"""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.embeddings import Embeddings

from bot.config import Settings
from bot.precedents.filters import Filters, parse_query
from bot.precedents.internal import InternalIndex
from bot.precedents.search import Precedent, PrecedentSearch, SearchPage


class PrecedentSpace:
    """The internal index and the precedent searcher, opened on first use and then kept."""

    def __init__(self, settings: Settings, *, embeddings: Embeddings | None = None) -> None:
        self.settings = settings
        self._embeddings = embeddings
        self._index: InternalIndex | None = None
        self._searcher: PrecedentSearch | None = None
        self._lock = threading.Lock()

    @property
    def index(self) -> InternalIndex:
        """The internal records' index (raises ``InternalStoreError`` when the store is unusable)."""
        with self._lock:
            if self._index is None:
                self._index = InternalIndex(self.settings, embeddings=self._embeddings)
            return self._index

    @property
    def searcher(self) -> PrecedentSearch:
        """Search over the public cases and agreements plus the internal records."""
        index = self.index
        with self._lock:
            if self._searcher is None:
                self._searcher = PrecedentSearch(self.settings, internal=index)
            return self._searcher

    # --- what the records feature tells us ----------------------------------------------------------
    def record_saved(self, record: dict[str, Any]) -> None:
        """A submitted or changed record becomes searchable, replacing its previous version."""
        self.index.upsert(record)

    def record_deleted(self, record_id: str) -> None:
        """A deleted record disappears from search."""
        self.index.delete(record_id)

    # --- searching -------------------------------------------------------------------------------------
    def page(self, query: str, filters: Filters | None = None, limit: int = 10, offset: int = 0) -> SearchPage:
        """One page of precedents; ``filters=None`` reads inline options (``year:2023``) from ``query``."""
        if filters is None:
            parsed = parse_query(query)
            query, filters = parsed.text, parsed.filters
        return self.searcher.search(query, filters, limit, offset)

    def search(self, query: str, filters: Filters | None = None, limit: int = 10,
               offset: int = 0) -> list[Precedent]:
        """The precedents of :meth:`page` without the paging flag."""
        return self.page(query, filters, limit, offset).items

    def similar(self, text: str, k: int = 3, exclude_record_id: str | None = None) -> list[dict[str, Any]]:
        """What the intake card shows: the ``k`` nearest earlier cases and records."""
        return self.searcher.similar(text, k, exclude_record_id)
