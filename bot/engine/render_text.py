"""Plain-text rendering of an Answer for the terminal (``ask`` and ``chat``)."""

from __future__ import annotations

from bot.engine.answer import Answer


def sources_block(answer: Answer, with_text: bool = False) -> str:
    if not answer.sources:
        return ""
    head = "Sources:" if answer.language == "en" else "出典:"
    lines = [head]
    for n, s in enumerate(answer.sources, start=1):
        lines.append(f"  [{n}] {s.label()}")
        if with_text:
            lines.extend(f"      {line}" for line in s.text.splitlines() if line.strip())
    return "\n".join(lines)


def render(answer: Answer) -> str:
    """Answer, sources, then the notice — the order a reader needs them."""
    parts = [answer.text]
    block = sources_block(answer)
    if block:
        parts.append(block)
    if answer.notice:
        parts.append(answer.notice)
    return "\n\n".join(parts)
