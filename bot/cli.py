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

    # --- operating the service (bot/ops) ----------------------------------------------------------
    p = sub.add_parser("doctor", help="check configuration, stores, database and Slack; exit 0 when serve would work")
    p.add_argument("--offline", action="store_true",
                   help="skip the Slack checks (before the Slack app exists); exit 0 when the rest passes")
    p.add_argument("--json", action="store_true", help="print the checks as one JSON object")
    p.set_defaults(handler=_lazy("bot.ops.doctor", "run"))

    p = sub.add_parser("migrate", help="bring the database to this version's schema (back up first)")
    p.add_argument("--check", action="store_true", help="only report; exit 1 when migrations are pending")
    p.set_defaults(handler=_lazy("bot.ops.migrate", "run"))

    p = sub.add_parser("backup", help="back up records, audit history, outbox, internal precedents, ingest manifest")
    p.add_argument("directory", help="a new or empty directory")
    p.set_defaults(handler=_lazy("bot.ops.backup", "run_backup"))

    p = sub.add_parser("restore", help="restore a backup onto an empty data directory / database")
    p.add_argument("directory", help="a directory written by `ppp-desk backup`")
    p.add_argument("--no-ingest", action="store_true",
                   help="do not rebuild the public knowledge store from the knowledge directory")
    p.set_defaults(handler=_lazy("bot.ops.backup", "run_restore"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from bot.errors import StartupError
    from bot.logs import configure_logging, fatal_message, tracebacks_wanted

    try:
        settings = get_settings()
    except Exception as exc:  # noqa: BLE001 - a bad setting is one line naming it, not a traceback
        print(f"ppp-desk {args.command}: {fatal_message(exc, None)}", file=sys.stderr)
        return 2
    configure_logging(settings, verbose=args.verbose)
    try:
        return args.handler(args, settings)
    except KeyboardInterrupt:
        return 130
    except StartupError as exc:  # a wrong setting or an unreachable service: one line, no traceback
        logging.getLogger("bot.cli").debug("startup failed", exc_info=True)
        print(f"ppp-desk {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if tracebacks_wanted(settings, args.verbose):
            raise
        # Anything else is still one line naming the setting or service (bot.logs.fatal_message).
        print(f"ppp-desk {args.command}: {fatal_message(exc, settings)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
