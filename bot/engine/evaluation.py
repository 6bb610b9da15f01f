"""Evaluation harness for the answer engine (format: ../shared/eval/README.md).

Pure scoring functions plus one runner.  Matching follows the eval README: normalized text (NFKC,
radicals → ideographs, U+FFFD removed, whitespace removed, case folded); an answer's facts must
appear in its first 600 normalized characters, so answers must lead with the finding.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.engine.engine import Engine, Turn
from bot.engine.retrieve import RetrievalParams
from ingest.normalize import compact

ANSWER_WINDOW = 600


@dataclass
class ItemResult:
    id: str
    category: str
    predicted_category: str
    answerable: bool
    abstained: bool
    hit_rank: int | None  # 1-based rank of the first retrieved chunk containing evidence
    facts_ok: bool | None  # None for unanswerable items
    missing: list[list[str]] = field(default_factory=list)
    latency_ms: float = 0.0
    question: str = ""
    cited: bool = False  # a passage the answer cites contains evidence

    @property
    def abstention_ok(self) -> bool:
        return self.abstained != self.answerable


def load_set(path: Path) -> list[dict]:
    items = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
    return items


def evidence_rank(texts: list[str], evidence: list[str]) -> int | None:
    wanted = [compact(e) for e in evidence]
    for rank, text in enumerate(texts, start=1):
        t = compact(text)
        if any(w and w in t for w in wanted):
            return rank
    return None


def missing_groups(answer_text: str, must: list[list[str]]) -> list[list[str]]:
    window = compact(answer_text)[:ANSWER_WINDOW]
    return [group for group in must if not any(compact(alt) in window for alt in group)]


def evaluate_item(engine: Engine, item: dict, k: int = 5, params: RetrievalParams | None = None) -> ItemResult:
    """One item: a question (``q``), or a conversation (``turns``) scored on its last turn."""
    turns = item.get("turns") or [item["q"]]
    history: list[Turn] = []
    for earlier in turns[:-1]:
        previous = engine.answer(earlier, history)
        history.append(Turn(question=earlier, answer=previous.text, category=previous.category))
    question = turns[-1]
    answer = engine.answer(question, history, item_id=item.get("id"))
    hits = engine.retrieve(question, k, params=params, history=history)
    rank = evidence_rank([h.chunk.text for h in hits], item.get("evidence") or []) if item["answerable"] else None
    missing = missing_groups(answer.text, item.get("answer_must") or []) if item["answerable"] else []
    cited = bool(item["answerable"] and evidence_rank([s.text for s in answer.sources], item.get("evidence") or []))
    return ItemResult(id=item["id"], cited=cited, category=item.get("category", ""), predicted_category=answer.category,
                      answerable=bool(item["answerable"]), abstained=answer.abstained, hit_rank=rank,
                      facts_ok=(not missing and not answer.abstained) if item["answerable"] else None,
                      missing=missing, latency_ms=answer.latency_ms, question=" → ".join(turns))


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarize(results: list[ItemResult]) -> dict:
    answerable = [r for r in results if r.answerable]

    def hit_at(n: int) -> float:
        return sum(1 for r in answerable if r.hit_rank and r.hit_rank <= n) / len(answerable) if answerable else 0.0

    lat = [r.latency_ms for r in results]
    return {
        "items": len(results),
        "hit@1": hit_at(1), "hit@3": hit_at(3), "hit@5": hit_at(5),
        "cited_hit": sum(1 for r in answerable if r.cited) / len(answerable) if answerable else 0.0,
        "fact_coverage": (sum(1 for r in answerable if r.facts_ok) / len(answerable)) if answerable else 0.0,
        "abstention_correct": sum(1 for r in results if r.abstention_ok) / len(results) if results else 0.0,
        "answerable_abstained": sum(1 for r in answerable if r.abstained),
        "unanswerable_answered": sum(1 for r in results if not r.answerable and not r.abstained),
        "category_accuracy": sum(1 for r in results if r.category == r.predicted_category) / len(results)
        if results else 0.0,
        "latency_p50_ms": statistics.median(lat) if lat else 0.0,
        "latency_p95_ms": _pct(lat, 0.95),
    }


def run(engine: Engine, items: list[dict], k: int = 5, params: RetrievalParams | None = None) -> dict:
    """Evaluate every item; returns overall and per-category summaries plus failures."""
    engine.answer("ウォームアップ")  # first call pays one-off costs; latency is measured warm
    engine.forget_vectors()  # …but not with vectors a calibration run already computed
    started = time.perf_counter()
    results = [evaluate_item(engine, item, k, params) for item in items]
    by_cat: dict[str, list[ItemResult]] = {}
    for r in results:
        by_cat.setdefault(r.category, []).append(r)
    failures = [
        {"id": r.id, "category": r.category, "question": r.question,
         "why": ("abstained" if r.answerable and r.abstained else
                 "answered an unanswerable question" if not r.answerable and not r.abstained else
                 f"missing {r.missing}" if r.missing else
                 "evidence not retrieved" if r.answerable and not r.hit_rank else "")}
        for r in results
        if not r.abstention_ok or r.facts_ok is False or (r.answerable and not r.hit_rank)
    ]
    folds = engine.calibration.folds
    held_out = sum(1 for item in items if item.get("id") in folds and engine.calibration.fold_models)
    return {"overall": summarize(results), "decision": {"held_out": held_out, "full_model": len(items) - held_out}, "per_category": {c: summarize(rs) for c, rs in sorted(by_cat.items())},
            "failures": failures, "seconds": time.perf_counter() - started}
