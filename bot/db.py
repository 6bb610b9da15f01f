"""Database access shared by every part that keeps state (events, feedback, records, outbox).

SQLAlchemy 2 with SQLite by default (a file under the data dir) and PostgreSQL when
``DATABASE_URL`` points at one.  The schema is owned by Alembic migrations in ``bot/migrations``;
:func:`migrate` brings a database to the newest revision and is safe to call at every start.
Several HTTP worker processes share state only through this database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from bot.errors import StartupError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class Base(DeclarativeBase):
    """Declarative base for every table; models register here, migrations create them."""


# The desk's calendar: dates shown to people and report periods.  Every city this serves is in Japan.
JST = timezone(timedelta(hours=9), "JST")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets several workers read while one writes; busy_timeout turns lock contention into a
    # short wait instead of an immediate "database is locked" error.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # With WAL, NORMAL stays consistent after a crash and only risks the last commits on a power
    # loss; FULL made every commit wait ~4 ms for the disk, which queued acks under a burst.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def migrate(engine: Engine) -> None:
    """Upgrade the schema to every head revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = None
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def safe_url(url: str) -> str:
    """The URL with its password hidden (it goes into error messages)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def _reason(exc: BaseException) -> str:
    """The driver's first line ("connection refused", "unable to open database file"), kept short."""
    inner = getattr(exc, "orig", None) or exc
    first = (str(inner).strip().splitlines() or [""])[0]
    return f"{type(inner).__name__}: {first}"[:200]


class StorageMissing(SQLAlchemyError):
    """The SQLite file is gone: a write would land in an unlinked file nobody reads again."""


class Database:
    """An engine plus a session factory; one per process and URL."""

    def __init__(self, url: str, *, run_migrations: bool = True) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
            if run_migrations:
                migrate(self.engine)
        except (DBAPIError, NoSuchModuleError, ArgumentError, ModuleNotFoundError, OSError) as exc:
            raise StartupError(f"DATABASE_URL={safe_url(url)} cannot be used ({_reason(exc)})") from exc
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with self.Session() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    def storage_present(self) -> bool:
        """False when a SQLite file is gone from where it was opened (data dir deleted or moved).

        SQLite keeps writing to an unlinked file without any error, so a submission would be
        "saved" somewhere nothing will ever read it again; callers check this before confirming.
        PostgreSQL (and in-memory SQLite) has no file to lose: always True here.
        """
        if not self.url.startswith("sqlite"):
            return True
        path = self.url.split("///", 1)[-1]
        return not path or path == ":memory:" or Path(path).is_file()

    def require_storage(self) -> None:
        """Refuse a write (and so a confirmation) when the database file is gone (:class:`StorageMissing`)."""
        if not self.storage_present():
            raise StorageMissing("database file missing")
