"""Evidence: sentence units scored against the question, chosen by meaning, measured for the decision.

Small-to-big: every sentence unit of the live passages is scored — e5 similarity of the ask to the
unit, e5 similarity of the whole message to the unit's passage, the share of the ask's nouns the
unit covers (idf-weighted), and the passage's BM25 score — and the answer quotes the best units
and cites their passages.  The weights are few and live in the calibration file.  Pure given the
index's arrays: no I/O, no word lists.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from bot.engine.question import Question
from ingest.index import KnowledgeIndex, StoredChunk, UnitRef
from ingest.lexical import tokenize
from ingest.normalize import compact

MAX_QUOTES = 3
MIN_LEAD_CHARS = 8


_PREDICATE = {"動詞", "助動詞", "形容詞"}


# Answers the desk approved in Slack (bot.knowledge_loop): they answer the question they were
# approved for and its paraphrases, nothing else.  SAME_QUESTION is the e5 cosine above which two
# questions are one question; the knowledge loop groups gaps with the same figure, so a gap answered
# once is closed for every question grouped with it.  (Measured on the development near-misses:
# paraphrases 0.92-0.95, the nearest other question 0.87-0.90 for two of three approved answers.)
DESK_ANSWER_TYPE = "desk_answer"
SAME_QUESTION = 0.905


def _leadable(text: str) -> bool:
    """A unit that states something: a predicate, a list or table row, or a long line.

    A bare name line ("CO+CREATION KOBE(神戸市)") is a label: it may support, never lead.
    """
    if len(text) < MIN_LEAD_CHARS:
        return False
    if "、" in text or "：" in text or len(text) >= 30:
        return True
    from ingest.lexical import _tokenizer

    return any(m.part_of_speech()[0] in _PREDICATE for m in _tokenizer().tokenize(text))


@dataclass(frozen=True)
class Weights:
    """How the signals add up to a unit's score (fitted by ``ppp-desk calibrate``)."""

    sentence: float = 1.0  # e5: ask ↔ unit
    passage: float = 0.5  # e5: whole message ↔ the unit's passage
    lexical: float = 0.1  # idf share of the ask's nouns found in the unit and its heading
    bm25: float = 0.05  # the passage's BM25 score, scaled to 0..1 over the candidates
    related: float = 0.5  # a glossary term counts this much of one of the ask's own nouns
    margin: float = 0.06  # supporting quotes score at most this far below the lead
    novelty: float = 0.04  # MMR: bonus for a quote naming one of the ask's phrases not yet quoted
    redundancy: float = 0.5  # MMR: penalty per unit of similarity above 0.9 to a chosen quote


@dataclass(frozen=True)
class Candidate:
    unit: UnitRef
    chunk: StoredChunk
    score: float
    sentence: float  # e5 similarity of the ask to this unit
    passage: float  # e5 similarity of the whole message to the unit's passage
    lexical: float  # share of the ask's nouns in the unit


@dataclass(frozen=True)
class Signals:
    """What the decision to answer rests on (all measured, see ``bot.engine.decide``)."""

    best: float  # the lead unit's score
    sentence: float  # the lead unit's e5 similarity to the ask
    coverage: float  # idf share of the ask's nouns found in the chosen units' passages
    unknown: float  # idf share of the ask's nouns that occur nowhere in the documents

    def vector(self) -> list[float]:
        return [self.best, self.sentence, self.coverage, self.unknown]


FEATURES = ("best", "sentence", "coverage", "unknown")


class EvidenceScorer:
    """Scores every unit of the index for a question (arrays built once per index load)."""

    def __init__(self, index: KnowledgeIndex) -> None:
        self.index = index
        units = index.units
        self.unit_tokens = [frozenset(tokenize(f"{u.heading} {u.text}")) for u in units]
        self.chunk_tokens = {cid: frozenset(c.meta.get("tokens", "").split()) for cid, c in index.chunks.items()}
        df: dict[str, int] = {}
        for tokens in self.unit_tokens:
            for t in tokens:
                df[t] = df.get(t, 0) + 1
        n = max(1, len(units))
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.max_idf = math.log(1 + (n + 0.5) / 0.5)
        self.vocabulary = set(df) | {t for ts in self.chunk_tokens.values() for t in ts}
        postings: dict[str, list[int]] = {}
        for row, tokens in enumerate(self.unit_tokens):
            for t in tokens:
                postings.setdefault(t, []).append(row)
        self.postings = {t: np.array(rows, dtype=np.int64) for t, rows in postings.items()}
        self.unit_flat = [compact(f"{u.heading}{u.text}") for u in units]
        # A unit this short is a label ("(連携事業)"), not a finding: it may support, never lead.
        self.leadable = np.array([_leadable(u.text) for u in units], dtype=bool)

    def weight(self, token: str) -> float:
        return self.idf.get(token, self.max_idf)

    def _share(self, nouns: Iterable[str], tokens: frozenset[str]) -> float:
        nouns = list(nouns)
        total = sum(self.weight(t) for t in nouns)
        return sum(self.weight(t) for t in nouns if t in tokens) / total if total else 0.0

    def lexical_shares(self, nouns: Iterable[str], related: Iterable[str] = (), related_weight: float = 0.5
                       ) -> np.ndarray:
        """Per unit: the idf-weighted share of the ask's nouns it contains (glossary terms count less)."""
        out = np.zeros(len(self.index.units), dtype=np.float32)
        nouns = list(nouns)
        total = sum(self.weight(t) for t in nouns)
        if not total:
            return out
        for weight, tokens in ((1.0, nouns), (related_weight, list(related))):
            for t in tokens:
                rows = self.postings.get(t)
                if rows is not None:
                    out[rows] += weight * self.weight(t)
        return np.minimum(out / total, 1.0)

    def score(self, question: Question, ask_vec: np.ndarray, whole_vec: np.ndarray,
              bm25: dict[str, float], weights: Weights,
              keep: Callable[[StoredChunk], bool] | None = None) -> list[Candidate]:
        """All units, best first (filtered by ``keep`` on their passage)."""
        index = self.index
        if not index.units:
            return []
        sentence = index.unit_matrix @ ask_vec
        passage = (index.chunk_matrix @ whole_vec)[index.unit_chunk]
        lexical = self.lexical_shares(question.nouns, question.related, weights.related)
        top_bm25 = max(bm25.values(), default=0.0) or 1.0
        chunk_bm25 = np.array([bm25.get(cid, 0.0) / top_bm25 for cid in index.chunk_ids], dtype=np.float32)
        total = (weights.sentence * sentence + weights.passage * passage + weights.lexical * lexical
                 + weights.bm25 * chunk_bm25[index.unit_chunk])
        order = np.argsort(-total)
        out = []
        for row in order:
            unit = index.units[row]
            chunk = index.chunks[unit.chunk_id]
            if keep is not None and not keep(chunk):
                continue
            out.append(Candidate(unit, chunk, float(total[row]), float(sentence[row]), float(passage[row]),
                                 float(lexical[row])))
        leads = [c for c in out if self.leadable[c.unit.row]]
        return leads[:1] + [c for c in out if c is not (leads[0] if leads else None)]

    def part_best(self, part_nouns: tuple[str, ...], candidates: list[Candidate],
                  weights: Weights) -> Candidate | None:
        """The unit that best answers one question of a several-question message.

        Meaning comes from the whole ask (one model call per message); what tells the questions
        apart is each one's own nouns.
        """
        lexical = self.lexical_shares(part_nouns)
        pool = [c for c in candidates[:60] if self.leadable[c.unit.row]]
        return max(pool, default=None, key=lambda c: weights.sentence * c.sentence + weights.passage * c.passage
                   + weights.lexical * float(lexical[c.unit.row]))

    def select(self, candidates: list[Candidate], weights: Weights, required: list[Candidate] = (),
               phrases: tuple[str, ...] = (), limit: int = MAX_QUOTES) -> list[Candidate]:
        """Lead with the best unit, then diversify (MMR) among units close to it in score.

        A unit naming one of the ask's phrases that no chosen quote names yet ("AとBの違い": the
        one about B) gains ``novelty``; one saying what a chosen quote says loses by redundancy.
        """
        if not candidates:
            return []
        chosen = [candidates[0]]
        for c in required:
            if c is not None and all(c.unit.row != x.unit.row for x in chosen) and len(chosen) < limit:
                chosen.append(c)
        wanted = [compact(p) for p in phrases]

        def named(c: Candidate) -> set[str]:
            return {p for p in wanted if p in self.unit_flat[c.unit.row]}

        covered = set().union(*(named(c) for c in chosen))
        floor = candidates[0].score - weights.margin
        matrix = self.index.unit_matrix
        while len(chosen) < limit:
            best, best_mmr = None, -1e9
            for c in candidates[1:40]:
                if any(c.unit.row == x.unit.row for x in chosen):
                    continue
                new = named(c) - covered
                if c.score + (weights.novelty if new else 0.0) < floor:
                    continue
                similar = max(float(matrix[c.unit.row] @ matrix[x.unit.row]) for x in chosen)
                if similar > 0.99:  # the same sentence again
                    continue
                mmr = c.score + weights.novelty * len(new) - weights.redundancy * max(0.0, similar - 0.9)
                if mmr > best_mmr:
                    best, best_mmr = c, mmr
            if best is None:
                break
            chosen.append(best)
            covered |= named(best)
        return chosen

    def signals(self, question: Question, candidates: list[Candidate], chosen: list[Candidate]) -> Signals:
        if not chosen:
            return Signals(0.0, 0.0, 0.0, 1.0)
        lead = chosen[0]
        context: frozenset[str] = frozenset()
        for c in chosen:
            context |= self.unit_tokens[c.unit.row] | self.chunk_tokens.get(c.unit.chunk_id, frozenset())
        nouns = question.nouns
        total = sum(self.weight(t) for t in nouns)
        unknown = sum(self.weight(t) for t in nouns if t not in self.vocabulary) / total if total else 1.0
        return Signals(best=lead.score, sentence=lead.sentence, coverage=self._share(nouns, context),
                       unknown=unknown)
