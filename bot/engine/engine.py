"""The answer engine's public face (provisional minimal version; see issue 3)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from bot.answer import Answer, Source
from ingest.config import Settings
from ingest.index import KnowledgeIndex


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, used to read short follow-ups in context."""

    question: str
    answer: str = ""
    category: str = ""


class Engine:
    def __init__(self, settings: Settings, index: KnowledgeIndex | None = None) -> None:
        self.settings = settings
        self.index = index or KnowledgeIndex(settings)

    def answer(self, question: str, history: list[Turn] | None = None) -> Answer:
        start = time.perf_counter()
        hits = self.index.dense(question, 3)
        sources = [Source(title=c.title, doc_type=c.doc_type, section=c.section, page=c.page, text=c.text,
                          score=s, doc_id=c.doc_id, chunk_id=c.id) for c, s in hits]
        text = "\n".join(f"「{s.text[:120]}」[{i}]" for i, s in enumerate(sources, 1))
        return Answer(question=question, text=text, category="process", abstained=not sources,
                      sources=sources, latency_ms=(time.perf_counter() - start) * 1000)


_ENGINES: dict[tuple, Engine] = {}
_LOCK = threading.Lock()


def get_engine(settings: Settings) -> Engine:
    """Process-wide engine (loading the index and the model once)."""
    key = (str(settings.data_dir), settings.collection, settings.embeddings)
    with _LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = Engine(settings)
        return _ENGINES[key]
