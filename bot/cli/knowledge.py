"""``ppp-desk ingest`` and ``ppp-desk sources``: building and listing the public knowledge base."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Settings

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="ingest documents into the knowledge base")
    p.add_argument("path", nargs="?", help="file or directory (default: the knowledge directory)")
    p.add_argument("--prune", action="store_true", help="remove documents whose files are gone")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=ingest_command)

    p = sub.add_parser("sources", help="list the ingested documents")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=sources_command)


def _print_ingest_report(report: IngestReport, interrupted: bool = False) -> None:
    """Every bad file with its reason (stderr), skipped hidden entries, then the one-line summary."""
    for path, reason in report.errors:
        print(f"  ✗ {path}: {reason}", file=sys.stderr)
    for path, reason in report.skipped:
        print(f"  - {path}: {reason}", file=sys.stderr)
    if interrupted:
        print(f"ingest: interrupted; so far {report.summary()}")
    else:
        print(f"ingest: {report.summary()}")


def ingest_command(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pipeline import IngestInterrupted, ingest
    from ingest.store import EmbeddingModelMismatch

    source = Path(args.path) if args.path else settings.knowledge_dir
    if not source.exists():
        print(f"ppp-desk ingest: {source}: no such file or directory", file=sys.stderr)
        return 2
    try:
        report = ingest(settings, source, prune=args.prune, progress=sys.stderr.isatty() and not args.quiet)
    except EmbeddingModelMismatch as exc:
        print(f"ppp-desk ingest: {exc}", file=sys.stderr)
        return 2
    except IngestInterrupted as stop:
        # Ctrl-C: the bad files found so far are still worth knowing; 130 = 128 + SIGINT.
        _print_ingest_report(stop.report, interrupted=True)
        return 130
    _print_ingest_report(report)
    from bot.knowledge_loop.rebuild import sync_published

    for line in sync_published(settings):  # a rebuilt store gets the desk's answers and documents back
        print(f"ingest: {line}")
    return 0 if report.ok else 1


def sources_command(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.store import ChunkStore

    docs = ChunkStore(settings).documents()
    if not docs:
        print("No documents ingested yet. Run: ppp-desk ingest")
        return 1
    rows = sorted(docs.values(), key=lambda d: d.doc_id)
    if args.json:
        print(json.dumps([{"doc_id": d.doc_id, "title": d.title, "doc_type": d.doc_type,
                           "chunks": len(d.chunk_ids), "ingested_at": d.ingested_at} for d in rows],
                         ensure_ascii=False, indent=2))
        return 0
    width = max(len(d.doc_id) for d in rows)
    print(f"{'document':<{width}}  {'type':<11} {'chunks':>6}  ingested             title")
    for d in rows:
        print(f"{d.doc_id:<{width}}  {d.doc_type:<11} {len(d.chunk_ids):>6}  {d.ingested_at:<20} {d.title}")
    print(f"{len(rows)} documents, {sum(len(d.chunk_ids) for d in rows)} chunks")
    return 0
