"""Staff-only precedent search over public case studies and agreements plus internal intake records.

``setup()`` connects the internal index to the records feature through ``bot.events``; the Slack
surface (``bot.precedents.slack.register``) and the CLI call it, and so may any process that saves
records.  Nothing here is reachable from the business-facing answer path (``bot/engine``).
"""

from __future__ import annotations


def setup() -> None:
    """Subscribe to ``record_saved`` / ``record_deleted`` and answer ``similar_precedents`` (idempotent)."""
    from bot import events
    from bot.precedents.internal import on_record_deleted, on_record_saved
    from bot.precedents.search import similar_precedents

    events.subscribe("record_saved", on_record_saved)
    events.subscribe("record_deleted", on_record_deleted)
    events.subscribe("similar_precedents", similar_precedents)
