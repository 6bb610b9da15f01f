"""Answer-engine benchmark: retrieval per stage, cross-validated answer figures, latency, cold start.

    python -m bench.answer [--set FILE ...] [--rounds N]

For each evaluation set (default: ../shared/eval/dev.jsonl and dev2.jsonl, and the multi-turn set
of our own, bench/data/multiturn.jsonl) it prints:
- hit@1/@5 of each retrieval stage: chunk-level dense, BM25 and their fusion, and the engine's
  sentence-level (small-to-big) ranking, whose passages are what the answer cites;
- the answer figures as ``ppp-desk eval`` computes them — development items are decided by the
  calibration fold that never saw them, so these are cross-validated figures;
- answer latency p50/p95 in a warm process with the query-vector cache emptied before every
  answer (each answer pays its model call), over ``--rounds`` passes;
- for multi-turn items, the last turn answered with and without the thread's context;
- the time from a cold start to the first answer (new process, ``ppp-desk ask``).
Numbers, not assertions: targets live in the issue.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bot.cli.answers import DEFAULT_EVAL_SET
from bot.config import get_settings
from bot.engine import Engine, Turn
from bot.engine.evaluation import evidence_rank, load_set, run
from bot.engine.retrieve import RetrievalParams

HERE = Path(__file__).resolve().parent
DEFAULT_SETS = [DEFAULT_EVAL_SET, DEFAULT_EVAL_SET.with_name("dev2.jsonl"), HERE / "data" / "multiturn.jsonl"]
CHUNK_STAGES = [("chunks: dense", RetrievalParams("dense")), ("chunks: bm25", RetrievalParams("bm25")),
                ("chunks: fused", RetrievalParams("score", 1.0, 1.0))]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cold_start_seconds(question: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot.cli", "ask", question], check=True, capture_output=True)
    return time.perf_counter() - started


def _history(item: dict) -> tuple[str, list[Turn]]:
    turns = item.get("turns") or [item["q"]]
    return turns[-1], [Turn(question=t) for t in turns[:-1]]


def stages(engine, answerable: list[dict]) -> list[tuple[str, float, float]]:
    out = []
    for name, params in CHUNK_STAGES:
        ranks = []
        for item in answerable:
            question, history = _history(item)
            q = engine.read(question, history)
            hits = engine.retriever.retrieve(q.whole, 5, lexical_query=f"{q.whole} {q.expansion}", params=params)
            ranks.append(evidence_rank([h.chunk.text for h in hits], item["evidence"]))
        out.append((name, ranks))
    ranks = []
    for item in answerable:
        question, history = _history(item)
        ranks.append(evidence_rank([h.chunk.text for h in engine.retrieve(question, 5, history=history)],
                                   item["evidence"]))
    out.append(("sentences → passages", ranks))

    def hit(ranks: list, n: int) -> float:
        return sum(1 for r in ranks if r and r <= n) / len(ranks) if ranks else 0.0

    return [(name, hit(r, 1), hit(r, 5)) for name, r in out]


def latency(engine, items: list[dict], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        for item in items:
            question, history = _history(item)
            engine.forget_vectors()
            times.append(engine.answer(question, history).latency_ms)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", dest="sets", action="append", help="JSONL file (repeatable)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions for latency")
    args = parser.parse_args()
    engine = Engine(get_settings())
    engine.answer("ウォームアップ")
    print(f"chunks: {len(engine.index)}, sentence units: {len(engine.index.units)}, rounds: {args.rounds}")
    for path in [Path(p) for p in args.sets] if args.sets else DEFAULT_SETS:
        if not path.exists():
            print(f"\n{path}: not found, skipped")
            continue
        items = load_set(path)
        answerable = [i for i in items if i["answerable"]]
        unanswerable = [i for i in items if not i["answerable"]]
        print(f"\n== {path.name}: {len(items)} questions ({len(answerable)} answerable)")
        for name, h1, h5 in stages(engine, answerable):
            print(f"  {name:<22} hit@1 {h1:.2f}  hit@5 {h5:.2f}")
        report = run(engine, items)
        o = report["overall"]
        refused = o["answerable_abstained"]
        caught = len(unanswerable) - o["unanswerable_answered"]
        print(f"  answers ({report['decision']['held_out']} of {len(items)} decided by held-out folds): "
              f"facts {o['fact_coverage']:.2f}  hit@5 {o['hit@5']:.2f}  evidence cited {o['cited_hit']:.2f}  "
              f"unanswerable abstained {caught}/{len(unanswerable)}  answerable refused {refused}/{len(answerable)}")
        times = latency(engine, items, args.rounds)
        print(f"  answer latency (warm, no vector cache): p50 {statistics.median(times):.1f} ms  "
              f"p95 {pct(times, 0.95):.1f} ms  max {max(times):.1f} ms")
        threads = [i for i in items if i.get("turns")]
        if threads:
            alone = run(engine, [{**i, "turns": i["turns"][-1:]} for i in threads])["overall"]
            print(f"  multi-turn: facts {o['fact_coverage']:.2f} with the thread's context, "
                  f"{alone['fact_coverage']:.2f} for the last turn alone; abstention correct "
                  f"{o['abstention_correct']:.2f} vs {alone['abstention_correct']:.2f}")
    print(f"\ncold start to first answer (new process, `ppp-desk ask`): {cold_start_seconds('個人で提案できますか？'):.2f} s")


if __name__ == "__main__":
    main()
