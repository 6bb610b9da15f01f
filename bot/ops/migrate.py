"""Migrations as an explicit step: ``ppp-desk migrate [--check]``, and the check ``serve`` makes.

Upgrading the schema changes data other workers and hosts share, so it happens when the operator
says so (after a backup), never as a side effect of a read-only command.  :func:`state` reads the
database's Alembic revisions without writing anything (a missing SQLite file is reported as
missing, not created); :func:`problem` is the one line ``serve`` and the records commands print
when the database is not at this version's revisions.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from bot.config import Settings
from bot.db import MIGRATIONS_DIR, Database, _reason, make_engine, safe_url
from bot.errors import StartupError
from bot.logs import OperatorError, mask_url


def _script():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg, ScriptDirectory.from_config(cfg)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (``None`` for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1]
    return None if not path or path == ":memory:" else Path(path)


@dataclass(frozen=True)
class MigrationState:
    """Where a database stands against the revisions this version of the code ships."""

    url: str
    exists: bool  # False: a SQLite file that is not there yet
    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[tuple[str, str], ...]  # (revision, first line of its docstring), oldest first
    unknown: tuple[str, ...]  # revisions in the database that this code does not have (a newer version's)

    @property
    def up_to_date(self) -> bool:
        return self.exists and not self.pending and not self.unknown

    def summary(self) -> str:
        at = "+".join(self.current) or "empty"
        if not self.exists:
            return f"no database yet at {mask_url(self.url)}"
        if self.unknown:
            return (f"database at revision {at}, which this version does not know "
                    f"(made by a newer ppp-desk?)")
        if self.pending:
            return f"database at revision {at}; {len(self.pending)} migration(s) to apply"
        return f"database at revision {at} (up to date)"


def _ancestors(script, revs: tuple[str, ...]) -> set[str]:
    out: set[str] = set()
    todo = [r for r in revs if r]
    while todo:
        rev = todo.pop()
        if rev in out:
            continue
        out.add(rev)
        down = script.get_revision(rev).down_revision
        todo += [d for d in (down if isinstance(down, tuple | list) else (down,)) if d]
    return out


def current_revisions(engine: Engine) -> tuple[str, ...]:
    """The revisions stamped in the database (empty for a database without the version table)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return ()
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


def state_of(engine: Engine, url: str) -> MigrationState:
    _, script = _script()
    heads = tuple(sorted(script.get_heads()))
    current = current_revisions(engine)
    known = {s.revision for s in script.walk_revisions()}
    unknown = tuple(r for r in current if r not in known)
    done = _ancestors(script, tuple(r for r in current if r in known))
    order = [s for s in reversed(list(script.walk_revisions())) if s.revision not in done]
    pending = tuple((s.revision, (s.doc or "").strip().splitlines()[0] if s.doc else "") for s in order)
    return MigrationState(url, True, current, heads, pending, unknown)


def state(settings: Settings) -> MigrationState:
    """Read-only: the database's revisions; a SQLite file that does not exist is not created."""
    url = settings.db_url
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        _, script = _script()
        order = list(reversed(list(script.walk_revisions())))
        return MigrationState(url, False, (), tuple(sorted(script.get_heads())),
                              tuple((s.revision, (s.doc or "").strip().splitlines()[0]) for s in order), ())
    try:
        engine = make_engine(url)
        try:
            return state_of(engine, url)
        finally:
            engine.dispose()
    except (DBAPIError, NoSuchModuleError, ArgumentError, ModuleNotFoundError, OSError) as exc:
        # The same line as bot.db.Database gives: the setting, the URL without its password, the reason.
        raise StartupError(f"DATABASE_URL={safe_url(url)} cannot be used ({_reason(exc)})") from exc


def problem(settings: Settings) -> str | None:
    """``None`` when the database is at this version's revisions, else one line saying what to run."""
    st = state(settings)
    if st.up_to_date:
        return None
    if st.unknown:
        return (f"{st.summary()}; install the matching version or restore a backup "
                f"(see README: Upgrading)")
    if not st.exists:
        return f"{st.summary()}: run `ppp-desk migrate` first"
    return f"{st.summary()}: back it up, then run `ppp-desk migrate`"


class NotMigrated(OperatorError):
    """The database is not at this version's revisions (the message says what to run)."""


def open_current(settings: Settings) -> Database:
    """A :class:`Database` for commands that must not migrate: refused unless it is up to date."""
    why = problem(settings)
    if why:
        raise NotMigrated(why)
    return Database(settings.db_url, run_migrations=False)


def upgrade(engine: Engine, target: str = "heads") -> None:
    """Upgrade to ``target`` (a revision or ``heads``) on one connection, in one transaction."""
    from alembic import command

    cfg, _ = _script()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """``ppp-desk migrate [--check]``: 0 up to date (or upgraded), 1 migrations pending (--check), 2 refused."""
    before = state(settings)
    if before.unknown:
        print(f"ppp-desk migrate: {before.summary()}; nothing done", file=sys.stderr)
        return 2
    if args.check:
        print(f"migrate: {before.summary()}")
        for rev, doc in before.pending:
            print(f"  pending {rev}: {doc}")
        return 0 if before.up_to_date else 1
    if before.up_to_date:
        print(f"migrate: {before.summary()}")
        return 0
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        after = state_of(engine, settings.db_url)
    finally:
        engine.dispose()
    applied = ", ".join(rev for rev, _ in before.pending)
    print(f"migrate: applied {applied}; now at revision {'+'.join(after.current)} ({mask_url(settings.db_url)})")
    return 0
