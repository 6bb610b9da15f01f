"""The answer engine: retrieve → classify → compose → Answer.

The engine only ever opens the public knowledge collection (``settings.collection``); internal
records live elsewhere and have no path in here.  An LLM, when configured, may rephrase the
answer from the same retrieved passages; its output is accepted only if every citation points at a
retrieved passage, otherwise the extractive answer stands.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from bot.answer import Answer
from bot.city import CityProfile, load_city
from bot.engine import messages
from bot.engine.classify import (
    classify,
    detect_language,
    expand_english,
    expand_synonyms,
    is_follow_up,
    is_refusal,
)
from bot.engine.compose import Composer, compose_extractive, idf_table, key_phrases, salient_tokens
from bot.engine.retrieve import Hit, RetrievalParams, Retriever, make_filter
from ingest.config import Settings
from ingest.index import KnowledgeIndex
from ingest.lexical import tokenize

log = logging.getLogger(__name__)

# Share of the question's content words that must appear in one retrieved passage for a question
# without any desk-topic cue to be answered at all (otherwise: abstain, never guess).
OFF_TOPIC_MIN_COVERAGE = 0.75
# A desk-topic question is abstained when no retrieved passage shares a content word with it and
# the best vector similarity is below this.
MIN_DENSE = 0.80
K = 5


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, used to read short follow-ups in context."""

    question: str
    answer: str = ""
    category: str = ""


class Engine:
    def __init__(self, settings: Settings, index: KnowledgeIndex | None = None,
                 params: RetrievalParams | None = None) -> None:
        self.settings = settings
        self.index = index or KnowledgeIndex(settings)
        self.city: CityProfile = load_city(settings.knowledge_dir)
        self.retriever = Retriever(self.index, params)
        self._city_tokens = frozenset(tokenize(self.city.city))
        self.composer = Composer(idf_table(c.meta.get("tokens", "").split() for c in self.index.chunks.values()))
        self._llm = None
        if settings.llm_model:
            from bot.engine.llm import LLMComposer

            self._llm = LLMComposer(settings)

    # --- helpers ---------------------------------------------------------------------------------
    def _contact_hit(self, hits: list[Hit]) -> int | None:
        """Index of the retrieved passage that holds the desk's contact, retrieving it if needed."""
        src = self.city.desk.source
        for i, h in enumerate(hits):
            if h.chunk.doc_id == src.doc and (not src.section or h.chunk.section.endswith(src.section)):
                return i
        for chunk in self.index.chunks.values():
            if chunk.doc_id == src.doc and chunk.section.endswith(src.section) and self.city.desk.phone in chunk.text:
                hits.append(Hit(chunk, 0.0))
                return len(hits) - 1
        return None

    @staticmethod
    def _coverage(salient: frozenset[str], hits: list[Hit], top: int = 3) -> float:
        if not salient:
            return 0.0
        best = 0.0
        for h in hits[:top]:
            tokens = set(h.chunk.meta.get("tokens", "").split())
            best = max(best, len(salient & tokens) / len(salient))
        return best

    def _decline(self, question: str, language: str, refusal: bool, start: float) -> Answer:
        text = messages.refusal_text(self.city, language) if refusal else messages.abstain_text(self.city, language)
        return Answer(question=question, text=text, category="out_of_scope", abstained=True, sources=[],
                      latency_ms=(time.perf_counter() - start) * 1000, language=language,
                      notice=messages.notice(language), lead=text.split("。")[0] + "。",
                      mode="refusal" if refusal else "abstain")

    # --- public API ------------------------------------------------------------------------------
    def retrieve(self, question: str, k: int = K, params: RetrievalParams | None = None,
                 history: list[Turn] | None = None, doc_types: set[str] | None = None,
                 doc_ids: set[str] | None = None) -> list[Hit]:
        """Top-k passages for a question (optionally only of some document types or documents)."""
        query = self._contextual_query(question, history)
        expansion = expand_english(query) if detect_language(query) == "en" else expand_synonyms(query)
        return self.retriever.retrieve(query, k, lexical_query=f"{query} {expansion}", params=params,
                                       keep=make_filter(doc_types, doc_ids))

    @staticmethod
    def _contextual_query(question: str, history: list[Turn] | None) -> str:
        if history and is_follow_up(question):
            return f"{history[-1].question} {question}"
        return question

    def answer(self, question: str, history: list[Turn] | None = None, *, doc_types: set[str] | None = None,
               doc_ids: set[str] | None = None) -> Answer:
        """Answer one question (never raises for bad input: returns a polite message instead).

        ``doc_types`` / ``doc_ids`` restrict the passages used (e.g. only the guideline).
        """
        start = time.perf_counter()
        question = (question or "").strip()
        language = detect_language(question)
        if not question:
            text = messages.empty_question_text(language)
            return Answer(question="", text=text, category="out_of_scope", abstained=True, language=language,
                          notice=messages.notice(language), lead=text, mode="abstain")
        if len(question) > messages.MAX_QUESTION_CHARS:
            text = messages.too_long_text(messages.MAX_QUESTION_CHARS, language)
            return Answer(question=question[:200] + "…", text=text, category="out_of_scope", abstained=True,
                          language=language, notice=messages.notice(language), lead=text, mode="abstain",
                          latency_ms=(time.perf_counter() - start) * 1000)
        if is_refusal(question):
            return self._decline(question, language, True, start)

        query = self._contextual_query(question, history)
        category = classify(question)
        if category == "out_of_scope" and query != question:
            category = classify(query)
        # English questions are matched through their Japanese glossary terms.
        terms = (expand_english(query) or query) if language == "en" else query
        salient = salient_tokens(terms, self._city_tokens)
        synonyms = salient_tokens(expand_synonyms(query), self._city_tokens) if language == "ja" else frozenset()
        hits = self.retrieve(question, K, history=history, doc_types=doc_types, doc_ids=doc_ids)
        coverage = self._coverage(salient, hits)
        top_dense = max((h.dense for h in hits), default=0.0)
        if not hits:
            return self._decline(question, language, False, start)
        if category == "out_of_scope":
            if coverage < OFF_TOPIC_MIN_COVERAGE:
                return self._decline(question, language, False, start)
            category = {"case_study": "precedent", "agreement": "agreement"}.get(hits[0].chunk.doc_type, "scheme")
        elif coverage == 0.0 and top_dense < MIN_DENSE:
            return self._decline(question, language, False, start)

        chosen = self.composer.select(hits, salient | synonyms, category, key_phrases(terms))
        contact_hit = self._contact_hit(hits) if category == "contact" else None
        if not chosen and contact_hit is None:
            return self._decline(question, language, False, start)
        lead, text, sources = compose_extractive(hits, chosen, category, language, self.city,
                                                 contact_hit)
        answer = Answer(question=question, text=text, category=category, abstained=False, sources=sources,
                        language=language, notice=messages.notice(language), lead=lead, mode="extractive")
        if self._llm is not None:
            answer = self._llm.rewrite(answer, hits) or answer
        answer.latency_ms = (time.perf_counter() - start) * 1000
        return answer


_ENGINES: dict[tuple, Engine] = {}
_LOCK = threading.Lock()


def get_engine(settings: Settings) -> Engine:
    """Process-wide engine (loading the index and the model once)."""
    key = (str(settings.data_dir), settings.collection, settings.embeddings, settings.llm_model,
           str(settings.knowledge_dir), settings.chroma_host)
    with _LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = Engine(settings)
        return _ENGINES[key]
