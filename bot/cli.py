"""``ppp-desk`` command line: one entry point, one subcommand per job.

Handlers import their modules lazily so that ``ppp-desk sources`` does not pay for loading the
Slack SDK, and ``ppp-desk serve`` does not pay for the evaluation harness.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.config import Settings, get_settings

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport


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


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
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
    return 0 if report.ok else 1


def _cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.store import ChunkStore

    docs = ChunkStore(settings).documents()
    if not docs:
        print("No documents ingested yet. Run: ppp-desk ingest")
        return 1
    rows = sorted(docs.values(), key=lambda d: d.doc_id)
    if args.json:
        import json

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


def _lazy(module: str, func: str = "run"):
    def handler(args: argparse.Namespace, settings: Settings) -> int:
        import importlib

        return importlib.import_module(module).__getattribute__(func)(args, settings)

    return handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ppp-desk", description="Public-private partnership desk assistant")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="ingest documents into the knowledge base")
    p.add_argument("path", nargs="?", help="file or directory (default: the knowledge directory)")
    p.add_argument("--prune", action="store_true", help="remove documents whose files are gone")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_ingest)

    p = sub.add_parser("sources", help="list the ingested documents")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_cmd_sources)

    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the Answer as one JSON object")
    p.add_argument("--doc-type", action="append", help="only passages of this doc_type (repeatable)")
    p.add_argument("--doc", action="append", help="only passages of this document id (repeatable)")
    p.set_defaults(handler=_lazy("bot.commands", "ask"))

    p = sub.add_parser("chat", help="interactive local conversation")
    p.set_defaults(handler=_lazy("bot.commands", "chat"))

    p = sub.add_parser("eval", help="run an evaluation set")
    p.add_argument("--set", dest="eval_set", help="JSONL file (default: ../shared/eval/dev.jsonl)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--k", type=int, default=5)
    p.set_defaults(handler=_lazy("bot.commands", "evaluate"))

    p = sub.add_parser("calibrate", help="refit the answer-or-abstain rule on the development sets (k-fold CV)")
    p.add_argument("--set", dest="sets", action="append",
                   help="JSONL file (repeatable; default: ../shared/eval/dev.jsonl and dev2.jsonl)")
    p.add_argument("--folds", type=int, default=5)
    p.set_defaults(handler=_lazy("bot.commands", "calibrate"))

    p = sub.add_parser("serve", help="run the Slack app (Socket Mode if SLACK_APP_TOKEN, else HTTP)")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--workers", type=int, default=None)
    p.set_defaults(handler=_lazy("bot.slack.serve", "run"))

    p = sub.add_parser("records", help="draft proposal records (desk staff)")
    rsub = p.add_subparsers(dest="records_command", required=True)
    r = rsub.add_parser("list")
    r.add_argument("--status")
    r.add_argument("--json", action="store_true")
    r = rsub.add_parser("show")
    r.add_argument("record_id")
    r.add_argument("--json", action="store_true")
    r = rsub.add_parser("export")
    r.add_argument("--format", choices=["csv", "json"], default="csv")
    r.add_argument("--output", "-o")
    r.add_argument("--status", help="only records with this status")
    r.add_argument("--audit", action="store_true", help="export the status history instead")
    r = rsub.add_parser("delete", help="remove a record and its history (e.g. a withdrawn proposal)")
    r.add_argument("record_id")
    r.add_argument("--yes", action="store_true", help="confirm")
    p.set_defaults(handler=_lazy("bot.records.cli", "run"))

    p = sub.add_parser("precedents", help="search precedents (staff)")
    p.add_argument("query")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=10)
    p.set_defaults(handler=_lazy("bot.precedents.cli", "run"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    logging.basicConfig(level=logging.DEBUG if args.verbose else getattr(logging, settings.log_level, 20),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    for noisy in ("chromadb", "httpx", "urllib3", "sqlalchemy", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from bot.errors import StartupError

    try:
        return args.handler(args, settings)
    except KeyboardInterrupt:
        return 130
    except StartupError as exc:  # a wrong setting or an unreachable service: one line, no traceback
        logging.getLogger("bot.cli").debug("startup failed", exc_info=True)
        print(f"ppp-desk {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
