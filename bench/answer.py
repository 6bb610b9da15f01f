"""Answer-engine benchmark: latency of the default mode and a retrieval comparison of fusion modes.

    python -m bench.answer [--set FILE] [--rounds N]

Prints, on the evaluation set's questions, for each retrieval mode (dense-only, BM25-only, RRF,
score fusion with weights): hit@1/3/5 and answer latency p50/p95 in a warm process, plus the
time from a cold start to the first answer.  Numbers, not assertions: targets live in the issue.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bot.commands import DEFAULT_EVAL_SET
from bot.engine import get_engine
from bot.engine.retrieve import RetrievalParams
from bot.evaluation import evidence_rank, load_set
from ingest.config import get_settings

VARIANTS = [
    ("dense", RetrievalParams("dense")),
    ("bm25", RetrievalParams("bm25")),
    ("rrf 1:1", RetrievalParams("rrf", 1.0, 1.0)),
    ("rrf 1:0.5", RetrievalParams("rrf", 1.0, 0.5)),
    ("score 1:1", RetrievalParams("score", 1.0, 1.0)),
    ("score 1:0.5", RetrievalParams("score", 1.0, 0.5)),
    ("score 0.5:1", RetrievalParams("score", 0.5, 1.0)),
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cold_start_seconds(question: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot.cli", "ask", question], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", dest="eval_set", default=str(DEFAULT_EVAL_SET))
    parser.add_argument("--rounds", type=int, default=5, help="passes over the questions for latency")
    args = parser.parse_args()
    items = load_set(Path(args.eval_set))
    answerable = [i for i in items if i["answerable"]]
    engine = get_engine(get_settings())
    engine.answer("ウォームアップ")
    base = engine.retriever.params
    print(f"questions: {len(items)} ({len(answerable)} answerable), chunks: {len(engine.index)}, rounds: {args.rounds}")
    print(f"{'mode':<12} {'hit@1':>6} {'hit@3':>6} {'hit@5':>6} {'retr p50':>9} {'retr p95':>9} "
          f"{'answer p50':>11} {'answer p95':>11}")
    for name, params in VARIANTS:
        ranks, retrieval_ms, answer_ms = [], [], []
        for item in answerable:
            hits = engine.retrieve(item["q"], 5, params=params)
            ranks.append(evidence_rank([h.chunk.text for h in hits], item["evidence"]))
        engine.retriever.params = params
        for _ in range(args.rounds):
            for item in items:
                t = time.perf_counter()
                engine.retrieve(item["q"], 5, params=params)
                retrieval_ms.append((time.perf_counter() - t) * 1000)
                answer_ms.append(engine.answer(item["q"]).latency_ms)
        engine.retriever.params = base

        def hit(n: int, ranks=ranks) -> float:
            return sum(1 for r in ranks if r and r <= n) / len(ranks)

        marker = "  (default)" if params == base else ""
        print(f"{name:<12} {hit(1):>6.2f} {hit(3):>6.2f} {hit(5):>6.2f} {statistics.median(retrieval_ms):>9.1f} "
              f"{pct(retrieval_ms, 0.95):>9.1f} {statistics.median(answer_ms):>11.1f} {pct(answer_ms, 0.95):>11.1f}"
              f"{marker}")
    print(f"cold start to first answer (new process, `ppp-desk ask`): {cold_start_seconds(items[0]['q']):.2f} s")


if __name__ == "__main__":
    main()
