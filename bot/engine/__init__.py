"""Answer engine: retrieve → classify → compose → :class:`~bot.engine.answer.Answer`."""

from bot.engine.engine import Engine, Turn

__all__ = ["Engine", "Turn"]
