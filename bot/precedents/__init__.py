"""Staff-only precedent search over public case studies and agreements plus internal intake records.

:class:`~bot.precedents.space.PrecedentSpace` is the one entry point: the Slack app and the CLI
build one and hand it down; the records feature tells it about saved and deleted records.
Nothing here is reachable from the business-facing answer path (``bot/engine``).
"""
