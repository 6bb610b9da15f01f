"""Process-wide logging for every ``ppp-desk`` command: one line per event, text or JSON.

An operator reads these lines in ``journalctl`` or ships them to a log store, so:

- every record is one line: a traceback is folded into ``error=Type: message`` unless the level
  is DEBUG (then the whole traceback is printed, for a developer);
- ``LOG_FORMAT=json`` prints one JSON object per line; our own ``event=name key=value`` messages
  (``bot.slack.logs.kv``) become fields of that object, so a shipper can index them;
- third-party libraries speak only at WARNING and above unless ``LOG_LEVEL=DEBUG``.  Setting
  their loggers' levels is not enough: ``bm25s`` sets its own logger to DEBUG when imported
  (after start-up), so the filter sits on our handler, where no library reaches.

:func:`fatal_message` turns an exception that ends a command into one line that names the
setting or service to look at; ``bot.cli`` prints it instead of a traceback.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from bot.config import Settings
from bot.errors import StartupError

OWN_LOGGERS = ("bot", "ingest", "bench", "ppp_desk", "__main__")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_KV = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _error_field(record: logging.LogRecord) -> str | None:
    if not record.exc_info or record.exc_info[0] is None:
        return None
    exc = record.exc_info[1]
    return _one_line(f"{type(exc).__name__}: {exc}") if str(exc) else type(exc).__name__


def parse_kv(message: str) -> dict[str, str] | None:
    """Fields of an ``event=name key=value`` message (``None`` for free text)."""
    if not message.startswith("event="):
        return None
    out: dict[str, str] = {}
    for key, raw in _KV.findall(message):
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = raw[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        out[key] = raw
    return out


class OneLineFormatter(logging.Formatter):
    """The text format, with newlines in messages folded and tracebacks only at DEBUG."""

    def __init__(self, tracebacks: bool) -> None:
        super().__init__(TEXT_FORMAT)
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if self.tracebacks:
            return super().format(record)
        saved = record.exc_info, record.exc_text, record.stack_info
        error = _error_field(record)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            line = _one_line(super().format(record))
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
        return f"{line} error={json.dumps(error, ensure_ascii=False)}" if error else line


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...event fields}`` on one line per record."""

    def __init__(self, tracebacks: bool) -> None:
        super().__init__()
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        obj: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": message,
        }
        fields = parse_kv(message)
        if fields:
            obj.update({k: v for k, v in fields.items() if k not in obj})
        error = _error_field(record)
        if error:
            obj["error"] = error
            if self.tracebacks:
                obj["traceback"] = "".join(traceback.format_exception(*record.exc_info))  # type: ignore[misc]
        return json.dumps(obj, ensure_ascii=False)


class QuietThirdParty(logging.Filter):
    """Drops records below WARNING from libraries (ours always pass)."""

    def __init__(self, threshold: int = logging.WARNING) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.threshold:
            return True
        name = record.name
        return any(name == own or name.startswith(own + ".") for own in OWN_LOGGERS)


def level_of(settings: Settings, verbose: bool = False) -> int:
    """The configured level (``-v`` means DEBUG); an unknown name falls back to INFO."""
    if verbose:
        return logging.DEBUG
    value = logging.getLevelName(str(settings.log_level).strip().upper())
    return value if isinstance(value, int) else logging.INFO


def configure_logging(settings: Settings, verbose: bool = False, stream: Any = None) -> None:
    """Install the one stderr handler (idempotent: replaces any earlier root handlers)."""
    level = level_of(settings, verbose)
    debug = level <= logging.DEBUG
    handler = logging.StreamHandler(stream or sys.stderr)
    json_format = str(settings.log_format).strip().lower() == "json"
    handler.setFormatter(JsonFormatter(debug) if json_format else OneLineFormatter(debug))
    if not debug:
        handler.addFilter(QuietThirdParty())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic's "Running upgrade …" lines belong to `ppp-desk migrate`'s own summary, not to every
    # command; at DEBUG they come back.
    logging.getLogger("alembic").setLevel(logging.DEBUG if debug else logging.WARNING)


def tracebacks_wanted(settings: Settings, verbose: bool = False) -> bool:
    return level_of(settings, verbose) <= logging.DEBUG


# --- fatal errors: one line naming what to look at ----------------------------------------------------
# Optional packages and the setting that needs them: (pyproject extra, setting).
_EXTRAS = {"psycopg": ("postgres", "DATABASE_URL"), "psycopg2": ("postgres", "DATABASE_URL"),
           "langchain_openai": ("llm", "LLM_MODEL / EMBEDDINGS"), "langchain_ollama": ("llm", "LLM_MODEL")}


class OperatorError(StartupError):
    """An operations command cannot go ahead; the message is already the one line (printed as it is)."""


def mask_url(url: str) -> str:
    """A database URL without its password (``postgresql+psycopg://user:***@host/db``)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _modules(exc: BaseException) -> set[str]:
    """Top-level packages of every frame the exception (and its causes) passed through."""
    seen: set[str] = set()
    cur: BaseException | None = exc
    while cur is not None and len(seen) < 200:
        tb = cur.__traceback__
        while tb is not None:
            seen.add(str(tb.tb_frame.f_globals.get("__name__", "")).split(".", 1)[0])
            tb = tb.tb_next
        seen.add(type(cur).__module__.split(".", 1)[0])
        cur = cur.__cause__ or cur.__context__
    return seen


def _reason(exc: BaseException) -> str:
    root: BaseException = exc
    while root.__cause__ is not None or root.__context__ is not None:
        root = root.__cause__ or root.__context__  # type: ignore[assignment]
    text = _one_line(str(getattr(root, "orig", None) or root)) or type(root).__name__
    return text[:200]


def fatal_message(exc: BaseException, settings: Settings | None) -> str:
    """One line for an error that ends a command: the setting or service first, then the reason."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err.get("loc", ())) or "settings"
            parts.append(f"{name}: {err.get('msg', 'invalid')}")
        return "configuration: " + "; ".join(parts)
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, StartupError):
        return str(exc)
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        extra = _EXTRAS.get(exc.name.split(".", 1)[0])
        if extra:
            return (f"{extra[1]} needs the Python package {exc.name}: "
                    f".venv/bin/pip install -e '.[{extra[0]}]'")
    mods = _modules(exc)
    reason = _reason(exc)
    if isinstance(exc, SQLAlchemyError):
        url = mask_url(settings.db_url) if settings else "…"
        return f"DATABASE_URL={url} cannot be used ({reason})"
    if type(exc).__name__ == "SlackApiError":
        response = getattr(exc, "response", None)
        code = response.get("error") if hasattr(response, "get") else None
        return f"SLACK_BOT_TOKEN: Slack refused the token ({code or reason}); check the token and SLACK_API_URL"
    if isinstance(exc, OSError) and ("slack_sdk" in mods or "slack_bolt" in mods):
        where = settings.slack_api_url if settings else "Slack"
        return f"SLACK_API_URL: cannot reach Slack at {where} ({reason})"
    if "chromadb" in mods and settings and settings.chroma_host:
        return (f"CHROMA_HOST: cannot use the Chroma server {settings.chroma_host}:{settings.chroma_port} "
                f"({reason})")
    if isinstance(exc, PermissionError) and settings:
        return f"PPP_DATA_DIR: cannot use {getattr(exc, 'filename', None) or settings.data_dir} ({reason})"
    return f"{type(exc).__name__}: {reason} (LOG_LEVEL=DEBUG prints the traceback)"
