"""What every command module shares: the handler signature and lazy handlers.

A command module declares its own arguments next to its handler (``add_parsers``).  Handlers
that need heavy packages import them when they run, so ``ppp-desk sources`` does not pay for the
Slack SDK and ``ppp-desk serve`` does not pay for the evaluation harness.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

from bot.config import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


def lazy(module: str, func: str = "run") -> Handler:
    """A handler that imports ``module`` only when the command runs."""

    def handler(args: argparse.Namespace, settings: Settings) -> int:
        return getattr(importlib.import_module(module), func)(args, settings)

    return handler
