"""The one way user or document text is made safe for Slack, and cut to Slack's limits.

Slack parses ``&``, ``<`` and ``>`` in mrkdwn *and* in a message's top-level ``text`` (which
drives notifications and screen readers): ``<!channel>`` pings everyone, ``<https://x|label>``
shows a link with any label.  Every feature (answers, records, precedents) renders through
:func:`escape`, so there is exactly one place that decides what "inert" means.

Cutting escaped text at an arbitrary character can leave half an entity (``&am…``), which Slack
shows as garbage or, worse, re-joins with what follows.  :func:`truncate` never splits one.
``plain_text`` objects are not parsed by Slack, so they are only cut (:func:`truncate`), not
escaped (escaping them would show ``&lt;`` literally).
"""

from __future__ import annotations

_ENTITY_MAX = 5  # len("&amp;") - the longest entity escape() produces


def escape(text: str | None) -> str:
    """Slack's three control characters as entities; after this no mention or link can be injected."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_cut(text: str, cut: int) -> int:
    """``cut`` moved back so that ``text[:cut]`` does not end inside an ``&amp;``-style entity."""
    amp = text.rfind("&", max(0, cut - _ENTITY_MAX + 1), cut)
    if amp != -1 and ";" not in text[amp:cut]:
        return amp
    return cut


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """``text`` cut to at most ``limit`` characters including the ellipsis, never inside an entity."""
    if len(text) <= limit:
        return text
    return text[:safe_cut(text, max(0, limit - len(ellipsis)))] + ellipsis


def escaped(text: str | None, limit: int | None = None) -> str:
    """:func:`escape`, then :func:`truncate` to ``limit`` (the common case for a field's value)."""
    out = escape(text)
    return truncate(out, limit) if limit is not None else out
