"""Commands for running and operating the service: ``serve``, ``doctor``, ``migrate``, ``backup``, ``restore``.

The handlers live with what they operate (``bot.slack.serve``, ``bot.ops``); this module only
declares their arguments.
"""

from __future__ import annotations

import argparse

from bot.cli.base import lazy


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the Slack app (Socket Mode if SLACK_APP_TOKEN, else HTTP)")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--workers", type=int, default=None)
    p.set_defaults(handler=lazy("bot.slack.serve", "run"))

    p = sub.add_parser("doctor", help="check configuration, stores, database and Slack; exit 0 when serve would work")
    p.add_argument("--offline", action="store_true",
                   help="skip the Slack checks (before the Slack app exists); exit 0 when the rest passes")
    p.add_argument("--json", action="store_true", help="print the checks as one JSON object")
    p.set_defaults(handler=lazy("bot.ops.doctor", "run"))

    p = sub.add_parser("migrate", help="bring the database to this version's schema (back up first)")
    p.add_argument("--check", action="store_true", help="only report; exit 1 when migrations are pending")
    p.set_defaults(handler=lazy("bot.ops.migrate", "run"))

    p = sub.add_parser("backup", help="back up records, audit history, outbox, internal precedents, ingest manifest")
    p.add_argument("directory", help="a new or empty directory")
    p.set_defaults(handler=lazy("bot.ops.backup", "run_backup"))

    p = sub.add_parser("restore", help="restore a backup onto an empty data directory / database")
    p.add_argument("directory", help="a directory written by `ppp-desk backup`")
    p.add_argument("--no-ingest", action="store_true",
                   help="do not rebuild the public knowledge store from the knowledge directory")
    p.set_defaults(handler=lazy("bot.ops.backup", "run_restore"))
