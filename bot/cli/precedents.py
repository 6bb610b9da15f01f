"""``ppp-desk precedents "..." [--json] [--limit N]``: precedent search for staff scripts.

Inline options work as in Slack (``ppp-desk precedents "実証実験 AI year:2023"``).  Exit status: 0
with results, 1 when nothing matched (so scripts can test it like grep), 2 when the knowledge base
is missing.  ``--json`` prints one object: the parsed query, filters and the results.
"""

from __future__ import annotations

import argparse
import json
import sys

from bot.config import Settings
from bot.terminal import inert, inert_json


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("precedents", help="search precedents (staff)")
    p.add_argument("query")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=10)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Search and print; see the module docstring for the exit status."""
    from bot.precedents.filters import parse_query
    from bot.precedents.render import text_lines
    from bot.precedents.space import PrecedentSpace
    from ingest.store import ChunkStore

    if not ChunkStore(settings).documents():
        print("ppp-desk precedents: no documents ingested yet. Run: ppp-desk ingest", file=sys.stderr)
        return 2
    parsed = parse_query(args.query)
    limit = max(1, int(getattr(args, "limit", 10) or 10))
    offset = max(0, int(getattr(args, "offset", 0) or 0))
    page = PrecedentSpace(settings).page(parsed.text, parsed.filters, limit=limit, offset=offset)
    if getattr(args, "json", False):
        print(inert_json(json.dumps({"query": page.query, "filters": page.filters.to_dict(), "ignored": list(parsed.ignored),
                          "offset": page.offset, "has_more": page.has_more,
                          "results": [p.to_dict() for p in page.items]}, ensure_ascii=False, indent=2)))
    else:
        if parsed.ignored:
            print("読み取れなかった条件: " + inert(" ".join(parsed.ignored)), file=sys.stderr)
        print(inert("\n".join(text_lines(page))))
    return 0 if page.items else 1
