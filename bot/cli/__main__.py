"""``python -m bot.cli`` — the same entry point as the ``ppp-desk`` script."""

import sys

from bot.cli import main

sys.exit(main())
