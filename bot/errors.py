"""Problems a command cannot start with: a setting that is wrong or a service that is unreachable.

The CLI prints the message as one line and exits non-zero; the traceback is logged at DEBUG only.
Messages name the setting (``DATABASE_URL``, ``SLACK_BOT_TOKEN``, ``SLACK_API_URL``) and never a secret.
"""

from __future__ import annotations


class StartupError(RuntimeError):
    """Raised where a setting or service is checked; ``str(exc)`` is the line for the operator."""
