"""Answer engine: retrieve → classify → compose → :class:`~bot.engine.answer.Answer`."""

from bot.engine.engine import Engine, Turn, get_engine

__all__ = ["Engine", "Turn", "get_engine"]
