"""After ``ppp-desk ingest`` or ``restore`` rebuilt the public store: what the desk put in comes back.

The store is derived data; the desk's part of it is not in ``knowledge/``.  Approved answers come
back from the database (``desk_answers``), documents added from Slack from their kept files and the
audit (``documents``), each reported in one line for the command's output.
"""

from __future__ import annotations

from bot.config import Settings
from bot.db import Database
from bot.knowledge_loop import documents
from bot.knowledge_loop.desk_answers import DeskAnswers


def sync_published(settings: Settings) -> list[str]:
    """Re-publish approved answers and Slack-added documents the store lacks; one line for each.

    Empty when there is no up-to-date database (a fresh demo has none; an out-of-date one is
    reported by ``doctor`` and ``migrate``).
    """
    from bot.ops.migrate import problem

    if problem(settings) is not None:
        return []
    db = Database(settings.db_url, run_migrations=False)
    try:
        answers = DeskAnswers(db, settings)
        published, removed = answers.sync()
        active = len(answers.active())
        docs = documents.sync(settings, db, answers.store)
    finally:
        db.dispose()
    return [f"approved desk answers: {active} in the knowledge base ({published} re-published, {removed} removed)",
            docs.line()]
