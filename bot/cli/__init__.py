"""``ppp-desk`` command line: one entry point; each command module declares and handles its commands.

- ``knowledge``: ``ingest``, ``sources``
- ``answers``: ``ask``, ``chat``, ``eval``, ``calibrate``
- ``records``: ``records list|show|export|delete``
- ``precedents``: ``precedents``
- ``report``: ``report`` (the desk's figures)
- ``service``: ``serve``, ``doctor``, ``migrate``, ``backup``, ``restore``
"""

from __future__ import annotations

import argparse
import logging
import sys

from bot.cli import answers, knowledge, precedents, records, report, service
from bot.config import get_settings

COMMAND_MODULES = (knowledge, answers, service, records, precedents, report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ppp-desk", description="Public-private partnership desk assistant")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.add_parsers(sub)
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
