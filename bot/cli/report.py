"""``ppp-desk report --since DATE [--until DATE] [--json|--csv] [-o FILE]``: the desk's monthly figures.

The same figures as the weekly digest (``bot.knowledge_loop.report``).  Dates are calendar days in
Japan time, both inclusive: ``--since 2026-11-01 --until 2026-11-30`` is November.  The CSV has
Japanese headers and, written to a file, a BOM so that Excel opens it as UTF-8 (like
``records export``).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from bot.config import Settings
from bot.db import JST
from bot.terminal import inert, inert_json


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="the desk's figures for a period (questions, answers, hand-offs, drafts, gaps)")
    p.add_argument("--since", required=True, help="first day, YYYY-MM-DD (Japan time)")
    p.add_argument("--until", help="last day, YYYY-MM-DD (default: today)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object")
    fmt.add_argument("--csv", action="store_true", help="CSV with Japanese headers")
    p.add_argument("--output", "-o", help="write to this file instead of standard output")
    p.set_defaults(handler=run)


def _day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{flag} {value!r} is not a date (YYYY-MM-DD)") from None


def period(since: str, until: str | None, today: date | None = None) -> tuple[datetime, datetime]:
    """[start, end) in UTC for the inclusive JST calendar days ``since``..``until``."""
    first = _day(since, "--since")
    last = _day(until, "--until") if until else (today or datetime.now(JST).date())
    if last < first:
        raise ValueError(f"--until {last} is before --since {first}")
    start = datetime.combine(first, time.min, JST).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, JST).astimezone(UTC)
    return start, end


def run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.knowledge_loop.report import figures, to_csv, to_text
    from bot.ops.migrate import open_current

    try:
        start, end = period(args.since, args.until)
    except ValueError as exc:
        print(f"ppp-desk report: {exc}", file=sys.stderr)
        return 2
    db = open_current(settings)  # never migrates: an out-of-date database is refused with one line
    try:
        f = figures(db, start, end)
    finally:
        db.dispose()
    if args.json:
        text = inert_json(json.dumps(f.to_json(), ensure_ascii=False, indent=2)) + "\n"
    elif args.csv:
        text = to_csv(f)
    else:
        text = inert(to_text(f)) + "\n"
    if args.output:
        path = Path(args.output)
        # Excel reads a UTF-8 CSV as Shift_JIS unless it starts with a BOM.
        path.write_text(text, encoding="utf-8-sig" if args.csv else "utf-8", newline="")
        print(f"wrote {path}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
