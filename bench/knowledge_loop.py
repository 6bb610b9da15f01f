"""Knowledge-loop benchmark: ``report`` over many logged questions, gap grouping of many misses.

    python -m bench.knowledge_loop [--questions 100000] [--cluster 10000]

Fills a fresh SQLite database with synthetic logged questions (outcomes, feedback, hand-offs and
e5-sized vectors drawn around a few hundred topics), then times ``figures`` over the whole period
and the grouping of ``--cluster`` missed questions.  Prints numbers; targets live in the issue
(report ≤ 2 s over 100,000 questions, grouping 10,000 questions ≤ 10 s on 2 cores).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from bot.db import Database
from bot.knowledge_loop.gaps import cluster
from bot.knowledge_loop.log import pack_vector
from bot.knowledge_loop.models import QuestionLogEntry
from bot.knowledge_loop.report import figures

DIM = 384


def topic_vectors(n: int, topics: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.normal(size=(topics, DIM)).astype(np.float32)
    picks = rng.integers(0, topics, n)
    vectors = centres[picks] + 0.15 * rng.normal(size=(n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--cluster", type=int, default=10_000)
    parser.add_argument("--topics", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        now = datetime.now(UTC)
        outcomes = rng.choice(["answered", "abstained", "refused"], args.questions, p=[0.7, 0.27, 0.03])
        vectors = topic_vectors(args.questions, args.topics, rng)
        started = time.perf_counter()
        rows = [{"asked_at": now - timedelta(minutes=int(i)), "surface": "dm", "language": "ja",
                 "question": f"質問 {i}", "outcome": str(outcomes[i]), "category": "",
                 "feedback": int(rng.choice([1, -1, 0])) or None, "handed_off": bool(i % 17 == 0),
                 "vector": pack_vector(vectors[i])} for i in range(args.questions)]
        with db.session() as s:
            for start in range(0, len(rows), 5000):
                s.execute(insert(QuestionLogEntry), rows[start:start + 5000])
        print(f"filled {args.questions} logged questions in {time.perf_counter() - started:.1f} s")
        times = []
        for _ in range(3):
            t = time.perf_counter()
            f = figures(db, now - timedelta(days=400), now + timedelta(minutes=1))
            times.append(time.perf_counter() - t)
        print(f"report over {f.questions} questions: min {min(times):.2f} s, max {max(times):.2f} s "
              f"({len(f.top_gaps)} top gaps from the newest misses)")
        sample = topic_vectors(args.cluster, args.topics, rng)
        t = time.perf_counter()
        labels = cluster(sample)
        print(f"grouping {args.cluster} questions: {time.perf_counter() - t:.2f} s, {len(set(labels))} groups "
              f"({args.topics} topics drawn)")


if __name__ == "__main__":
    main()
