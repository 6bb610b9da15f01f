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

MAX_QUOTES = 3


@dataclass(frozen=True)
class Weights:
    """How the signals add up to a unit's score (fitted by ``ppp-desk calibrate``)."""

    sentence: float = 1.0  # e5: ask ↔ unit
    passage: float = 0.5  # e5: whole message ↔ the unit's passage
    lexical: float = 0.1  # idf share of the ask's nouns found in the unit and its heading
    bm25: float = 0.05  # the passage's BM25 score, scaled to 0..1 over the candidates
    margin: float = 0.06  # supporting quotes score at most this far below the lead
    redundancy: float = 0.5  # MMR: penalty for a unit similar to one already chosen


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
    gap: float  # lead score minus the next passage's best score

    def vector(self) -> list[float]:
        return [self.best, self.sentence, self.coverage, self.unknown, self.gap]


FEATURES = ("best", "sentence", "coverage", "unknown", "gap")


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

    def weight(self, token: str) -> float:
        return self.idf.get(token, self.max_idf)

    def _share(self, nouns: Iterable[str], tokens: frozenset[str]) -> float:
        nouns = list(nouns)
        total = sum(self.weight(t) for t in nouns)
        return sum(self.weight(t) for t in nouns if t in tokens) / total if total else 0.0

    def score(self, question: Question, ask_vec: np.ndarray, whole_vec: np.ndarray,
              bm25: dict[str, float], weights: Weights,
              keep: Callable[[StoredChunk], bool] | None = None) -> list[Candidate]:
        """All units, best first (filtered by ``keep`` on their passage)."""
        index = self.index
        if not index.units:
            return []
        sentence = index.unit_matrix @ ask_vec
        passage_by_chunk = index.chunk_matrix @ whole_vec
        passage = passage_by_chunk[index.unit_chunk]
        top_bm25 = max(bm25.values(), default=0.0) or 1.0
        nouns = question.nouns
        out = []
        for unit in index.units:
            chunk = index.chunks[unit.chunk_id]
            if keep is not None and not keep(chunk):
                continue
            lex = self._share(nouns, self.unit_tokens[unit.row])
            s = (weights.sentence * float(sentence[unit.row]) + weights.passage * float(passage[unit.row])
                 + weights.lexical * lex + weights.bm25 * bm25.get(unit.chunk_id, 0.0) / top_bm25)
            out.append(Candidate(unit, chunk, s, float(sentence[unit.row]), float(passage[unit.row]), lex))
        out.sort(key=lambda c: -c.score)
        return out

    def part_best(self, part_vec: np.ndarray, part_nouns: tuple[str, ...], candidates: list[Candidate],
                  weights: Weights) -> Candidate | None:
        """The candidate that best answers one question sentence of a multi-question message."""
        best, best_score = None, -1e9
        sims = self.index.unit_matrix @ part_vec
        for c in candidates[:60]:
            s = (weights.sentence * float(sims[c.unit.row]) + weights.passage * c.passage
                 + weights.lexical * self._share(part_nouns, self.unit_tokens[c.unit.row]))
            if s > best_score:
                best, best_score = c, s
        return best

    def select(self, candidates: list[Candidate], weights: Weights, required: list[Candidate] = (),
               limit: int = MAX_QUOTES) -> list[Candidate]:
        """Lead with the best unit, then diversify (MMR) among units close to it in score."""
        if not candidates:
            return []
        chosen = [candidates[0]]
        for c in required:
            if c is not None and all(c.unit.row != x.unit.row for x in chosen) and len(chosen) < limit:
                chosen.append(c)
        floor = candidates[0].score - weights.margin
        matrix = self.index.unit_matrix
        while len(chosen) < limit:
            best, best_mmr = None, -1e9
            for c in candidates[1:40]:
                if c.score < floor or any(c.unit.row == x.unit.row for x in chosen):
                    continue
                similar = max(float(matrix[c.unit.row] @ matrix[x.unit.row]) for x in chosen)
                if similar > 0.97:  # the same sentence in other words adds nothing
                    continue
                mmr = c.score - weights.redundancy * max(0.0, similar - 0.8)
                if mmr > best_mmr:
                    best, best_mmr = c, mmr
            if best is None:
                break
            chosen.append(best)
        return chosen

    def signals(self, question: Question, candidates: list[Candidate], chosen: list[Candidate]) -> Signals:
        if not chosen:
            return Signals(0.0, 0.0, 0.0, 1.0, 0.0)
        lead = chosen[0]
        context: frozenset[str] = frozenset()
        for c in chosen:
            context |= self.unit_tokens[c.unit.row] | self.chunk_tokens.get(c.unit.chunk_id, frozenset())
        nouns = question.nouns
        total = sum(self.weight(t) for t in nouns)
        unknown = sum(self.weight(t) for t in nouns if t not in self.vocabulary) / total if total else 1.0
        other = next((c.score for c in candidates if c.unit.chunk_id != lead.unit.chunk_id), lead.score)
        return Signals(best=lead.score, sentence=lead.sentence, coverage=self._share(nouns, context),
                       unknown=unknown, gap=lead.score - other)
