"""The answer engine: question → evidence → decision → composed Answer.

Each stage reads the one :class:`~bot.engine.question.Question`.  Passages are found by the whole
message and sentences chosen by the ask (small-to-big); whether to answer is decided from measured
evidence by the calibrated rule of ``bot.engine.decide``, never from keyword lists.  Safety
refusals (other businesses' data, internal notes, instructions, promises) are patterns and stay so.

The engine only ever opens the public knowledge collection (``settings.collection``); internal
records live elsewhere and have no path in here.  An LLM, when configured, may rewrite the answer
from the same passages; it is accepted only if every citation points at one of them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.city import CityProfile, load_city
from bot.config import Settings
from bot.engine import messages
from bot.engine.answer import Answer
from bot.engine.compose import compose, missing_type_text
from bot.engine.decide import Calibration, load_calibration
from bot.engine.evidence import (
    DESK_ANSWER_TYPE,
    MAX_QUOTES,
    SAME_QUESTION,
    Candidate,
    EvidenceScorer,
    Signals,
    Weights,
)
from bot.engine.glossary import AnswerType, Glossary, load_glossary
from bot.engine.question import Question, may_be_follow_up, parse
from bot.engine.retrieve import Hit, RetrievalParams, Retriever, make_filter
from bot.engine.safety import is_refusal
from bot.language import detect_language
from ingest.index import KnowledgeIndex, StoredChunk
from ingest.lexical import content_nouns
from ingest.normalize import normalize

log = logging.getLogger(__name__)
K = 5
VECTOR_CACHE = 2048
REFRESH_S = 10.0
MAX_CASES = 3
CASE_TYPE = "case_study"
# A unit with the expected kind of answer (a date, an amount…) is quoted when it is among the
# TYPE_POOL best and within TYPE_REACH margins of the lead's score.
TYPE_POOL = 15
TYPE_REACH = 1.0


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, used to read short follow-ups in context."""

    question: str
    answer: str = ""
    category: str = ""


@dataclass
class Evidence:
    """Everything the engine measured for one question (``ppp-desk calibrate`` reads this)."""

    question: Question
    candidates: list[Candidate]
    chosen: list[Candidate]
    signals: Signals
    missing_types: list[AnswerType]
    cases: list[Candidate]
    contact: Candidate | None


class Engine:
    def __init__(self, settings: Settings, index: KnowledgeIndex | None = None,
                 params: RetrievalParams | None = None, calibration: Calibration | None = None) -> None:
        self.settings = settings
        self.index = index or KnowledgeIndex(settings)
        self.city: CityProfile = load_city(settings.knowledge_dir)
        self.glossary: Glossary = load_glossary(settings.knowledge_dir)
        self.retriever = Retriever(self.index, params)
        self.calibration = calibration or load_calibration()
        self.scorer = EvidenceScorer(self.index)
        self._reload_lock = threading.Lock()
        self._seen_manifest = self._manifest_key()
        self._checked_at = time.monotonic()
        self._embeddings = self.index.store.embeddings
        self._vector_cache: dict[str, np.ndarray] = {}
        self._cache_lock = threading.Lock()
        self._category_names, self._category_matrix = self._category_vectors()
        self._llm = None
        if settings.llm_model:
            from bot.engine.llm import LLMComposer

            self._llm = LLMComposer(settings)

    # --- set-up ----------------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the store again (an approved answer was published or withdrawn, maybe elsewhere)."""
        with self._reload_lock:
            self.index.reload()
            self.scorer = EvidenceScorer(self.index)
            self._seen_manifest = self._manifest_key()
            self._checked_at = time.monotonic()

    def _manifest_key(self) -> frozenset:
        return frozenset((d, r.file_hash) for d, r in self.index.store.documents().items())

    def refresh_if_changed(self, max_age_s: float = REFRESH_S) -> bool:
        """Reload when the store's manifest changed since the last look (checked at most every few s).

        Several server processes share one store: an answer approved in one must be found by all.
        """
        if time.monotonic() - self._checked_at < max_age_s:
            return False
        self._checked_at = time.monotonic()
        if self._manifest_key() == self._seen_manifest:
            return False
        self.reload()
        return True

    def _category_vectors(self) -> tuple[list[str], np.ndarray]:
        names = list(self.glossary.categories)
        if not names:
            return [], np.zeros((0, 1), dtype=np.float32)
        vectors = self._embeddings.embed_documents([self.glossary.categories[n] for n in names])
        return names, np.asarray(vectors, dtype=np.float32)

    def _embed(self, texts: list[str]) -> list[np.ndarray]:
        """Query vectors for several texts in one model call (duplicates and repeats embedded once).

        Suggested prompts and retried questions come back often; the cache is small and per process.
        """
        unique = [t for t in dict.fromkeys(texts) if t not in self._vector_cache]
        if unique:
            embed_many = getattr(self._embeddings, "embed_queries", None)
            vectors = embed_many(unique) if embed_many else [self._embeddings.embed_query(t) for t in unique]
            with self._cache_lock:
                for t, v in zip(unique, vectors, strict=True):
                    if len(self._vector_cache) >= VECTOR_CACHE:
                        self._vector_cache.pop(next(iter(self._vector_cache)))
                    self._vector_cache[t] = np.asarray(v, dtype=np.float32)
        return [self._vector_cache[t] for t in texts]

    def _contact_candidate(self) -> Candidate | None:
        """The passage that holds the desk's contact (city.yaml says which), as a citation."""
        src = self.city.desk.source
        for unit in self.index.units:
            chunk = self.index.chunks[unit.chunk_id]
            if chunk.doc_id == src.doc and (not src.section or chunk.section.endswith(src.section)) \
                    and self.city.desk.phone in chunk.text:
                return Candidate(unit, chunk, 0.0, 0.0, 0.0, 0.0)
        return None

    # --- stages ----------------------------------------------------------------------------------
    def read(self, question: str, history: list[Turn] | None = None, follow_up: bool | None = None) -> Question:
        return parse(question, self.glossary, [t.question for t in history or []], self.city.desk.name,
                     follow_up)

    def understand(self, question: str, history: list[Turn] | None = None, *, weights: Weights | None = None,
                   keep: Callable[[StoredChunk], bool] | None = None, item_id: str | None = None
                   ) -> tuple[Question, Evidence]:
        """Read the question and gather its evidence, in the thread's context when that is better.

        A short turn in a thread that does not say it follows up ("作品はどこで展示されましたか？")
        is read both ways; the reading whose evidence the calibrated rule trusts more wins.
        """
        q = self.read(question, history)
        evidence = self.gather(q, weights=weights, keep=keep)
        if history and not q.is_follow_up and q.text and may_be_follow_up(q.text):
            q2 = self.read(question, history, follow_up=True)
            evidence2 = self.gather(q2, weights=weights, keep=keep)
            model = self.calibration.model_for(item_id)
            if evidence2.chosen and (not evidence.chosen
                                     or model.probability(evidence2.signals) > model.probability(evidence.signals)):
                return q2, evidence2
        return q, evidence

    def _desk_answers_for(self, q: Question, candidates: list[Candidate]) -> list[Candidate]:
        """Drop approved desk answers whose question is not this question said otherwise.

        A desk answer is a short question-and-answer passage; scored like a document passage, its
        question sentence looks like every question on the same subject (a 提案書 format answer
        would answer a question about pledges to submit).  So it is evidence only when the
        approved question and the asker's message are the same question by :data:`SAME_QUESTION`.
        """
        asked = {c.chunk.id: c.chunk.section.rsplit(" > ", 1)[-1] for c in candidates
                 if c.chunk.doc_type == DESK_ANSWER_TYPE}
        if not asked:
            return candidates
        texts = sorted(set(asked.values()))
        vectors = np.asarray(self._embed([q.whole, *texts]), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
        same = {t for t, sim in zip(texts, vectors[1:] @ vectors[0], strict=True) if sim >= SAME_QUESTION}
        return [c for c in candidates if c.chunk.doc_type != DESK_ANSWER_TYPE or asked[c.chunk.id] in same]

    def gather(self, q: Question, *, weights: Weights | None = None,
               keep: Callable[[StoredChunk], bool] | None = None) -> Evidence:
        """Score the sentence units, choose the quotes and measure the signals (no decision yet)."""
        weights = weights or self.calibration.weights
        parts = list(q.ask_parts) if len(q.ask_parts) > 1 else []
        retrieval_ask = f"{q.ask} {q.expansion}".strip() if q.language == "en" else q.ask
        ask_vec, whole_vec = self._embed([retrieval_ask, q.whole])
        lexical = self.index.lexical_search(f"{q.whole} {q.expansion}", 30, keep=keep)
        bm25 = {c.id: s for c, s in lexical}
        candidates = self._desk_answers_for(q, self.scorer.score(q, ask_vec, whole_vec, bm25, weights, keep))
        if q.wants_cases:
            # "Are there examples of …?" is answered from the published case studies only.
            cases_only = [c for c in candidates if c.chunk.doc_type == CASE_TYPE]
            candidates = cases_only or candidates
        # Each question of a several-question message gets its own best unit: by its own nouns, so
        # the message still costs one model call.
        required = [self.scorer.part_best(content_nouns(p), candidates, weights) for p in parts]
        chosen = self.scorer.select(candidates, weights, [c for c in required if c is not None], q.phrases)
        signals = self.scorer.signals(q, candidates, chosen)
        missing = self._missing_types(q, candidates, chosen, weights)
        cases = self._cases(candidates, weights) if q.wants_cases else []
        contact = self._contact_candidate() if q.wants_contact else None
        return Evidence(q, candidates, chosen, signals, missing, cases, contact)

    def _missing_types(self, q: Question, candidates: list[Candidate], chosen: list[Candidate],
                       weights: Weights) -> list[AnswerType]:
        """Expected kinds of answer the evidence lacks; a close unit that has one joins ``chosen``.

        "いつ…？" needs a date: when the chosen quotes have none but a unit nearly as relevant
        does, that unit is quoted; when no relevant unit has one, the kind is reported missing.
        """
        if not q.expected or q.wants_contact or not chosen:
            return []

        def has(t: AnswerType, c: Candidate) -> bool:
            return bool(t.answer.search(normalize(f"{c.unit.heading} {c.unit.text}").casefold()))

        floor = chosen[0].score - TYPE_REACH * weights.margin
        missing = []
        for t in q.expected:
            if any(has(t, c) for c in chosen):
                continue
            found = next((c for c in candidates[:TYPE_POOL] if c.score >= floor and has(t, c)), None)
            if found is None:
                missing.append(t)
            else:
                if len(chosen) >= MAX_QUOTES:
                    chosen.pop()
                chosen.append(found)
        return missing

    def _cases(self, candidates: list[Candidate], weights: Weights) -> list[Candidate]:
        """The best unit of each published case study close to the best case's score."""
        best_per_doc: dict[str, Candidate] = {}
        for c in candidates:
            if c.chunk.doc_type == CASE_TYPE and c.chunk.doc_id not in best_per_doc \
                    and self.scorer.leadable[c.unit.row]:
                best_per_doc[c.chunk.doc_id] = c
        ranked = sorted(best_per_doc.values(), key=lambda c: -c.score)
        if not ranked:
            return []
        floor = ranked[0].score - weights.margin
        return [c for c in ranked[:MAX_CASES] if c.score >= floor]

    def category(self, q: Question, evidence: Evidence) -> str:
        if evidence.contact is not None:
            return "contact"
        if evidence.cases:
            return "precedent"
        if not self._category_names:
            return "scheme"
        # What the answer is about says more than how the question is worded.
        lead = self.index.unit_matrix[evidence.chosen[0].unit.row] if evidence.chosen else 0.0
        sims = self._category_matrix @ (self._embed([q.ask])[0] + lead)
        return self._category_names[int(np.argmax(sims))]

    # --- answers ---------------------------------------------------------------------------------
    def compose(self, q: Question, evidence: Evidence) -> tuple[Answer, list[Hit]]:
        """The extractive answer over the evidence (no decision: callers decide first)."""
        lead, text, sources, hits = compose(evidence.chosen, q.language, self.city, self.glossary,
                                            contact=evidence.contact, cases=evidence.cases, focus=q.nouns)
        return Answer(question=q.text, text=text, category=self.category(q, evidence), abstained=False,
                      sources=sources, language=q.language, notice=messages.notice(q.language), lead=lead,
                      mode="extractive"), hits

    def forget_vectors(self) -> None:
        """Empty the query-vector cache (evaluations measure latency without it)."""
        with self._cache_lock:
            self._vector_cache.clear()

    def _decline(self, q: Question, refusal: bool, start: float) -> Answer:
        language = q.language
        text = messages.refusal_text(self.city, language) if refusal else messages.abstain_text(self.city, language)
        return Answer(question=q.text, text=text, category="out_of_scope", abstained=True, sources=[],
                      latency_ms=(time.perf_counter() - start) * 1000, language=language,
                      notice=messages.notice(language), lead=text.split("。")[0] + "。",
                      mode="refusal" if refusal else "abstain")

    def retrieve(self, question: str, k: int = K, params: RetrievalParams | None = None,
                 history: list[Turn] | None = None, doc_types: set[str] | None = None,
                 doc_ids: set[str] | None = None) -> list[Hit]:
        """Top-k passages for a question: the passages of its best sentence units, in order."""
        if params is not None and params != self.retriever.params:
            q = self.read(question, history)
            return self.retriever.retrieve(q.whole, k, lexical_query=f"{q.whole} {q.expansion}", params=params,
                                           keep=make_filter(doc_types, doc_ids))
        _q, evidence = self.understand(question, history, keep=make_filter(doc_types, doc_ids))
        hits, seen = [], set()
        for c in evidence.chosen + evidence.candidates:
            if c.chunk.id not in seen:
                seen.add(c.chunk.id)
                hits.append(Hit(c.chunk, c.score, c.passage, c.lexical))
            if len(hits) == k:
                break
        return hits

    def answer(self, question: str, history: list[Turn] | None = None, *, doc_types: set[str] | None = None,
               doc_ids: set[str] | None = None, item_id: str | None = None) -> Answer:
        """Answer one question (never raises for bad input: returns a polite message instead).

        ``doc_types`` / ``doc_ids`` restrict the passages used (e.g. only the guideline);
        ``item_id`` names an evaluation item, so its decision uses the model that never saw it.
        """
        start = time.perf_counter()
        raw = (question or "").strip()
        language = detect_language(raw[:messages.MAX_QUESTION_CHARS])
        if not raw:
            text = messages.empty_question_text(language)
            return Answer(question="", text=text, category="out_of_scope", abstained=True, language=language,
                          notice=messages.notice(language), lead=text, mode="abstain")
        if len(raw) > messages.MAX_QUESTION_CHARS:
            text = messages.too_long_text(messages.MAX_QUESTION_CHARS, language)
            return Answer(question=raw[:200] + "…", text=text, category="out_of_scope", abstained=True,
                          language=language, notice=messages.notice(language), lead=text, mode="abstain",
                          latency_ms=(time.perf_counter() - start) * 1000)
        self.refresh_if_changed()
        q = self.read(raw, history)
        if is_refusal(q.text):
            return self._decline(q, True, start)
        q, evidence = self.understand(question, history, weights=self.calibration.weights_for(item_id),
                                      keep=make_filter(doc_types, doc_ids), item_id=item_id)
        if not evidence.chosen:
            return self._decline(q, False, start)
        if evidence.missing_types:
            lead, text, sources = missing_type_text(
                evidence.missing_types, evidence.chosen[0], language, self.city,
                messages.abstain_contact(self.city, language), q.ask, q.phrases)
            return Answer(question=q.text, text=text, category="out_of_scope", abstained=True, sources=sources,
                          latency_ms=(time.perf_counter() - start) * 1000, language=language,
                          notice=messages.notice(language), lead=lead, mode="abstain")
        if evidence.contact is None and not self.calibration.model_for(item_id).answers(evidence.signals):
            return self._decline(q, False, start)
        answer, hits = self.compose(q, evidence)
        if self._llm is not None:
            answer = self._llm.rewrite(answer, hits) or answer
        answer.latency_ms = (time.perf_counter() - start) * 1000
        return answer
