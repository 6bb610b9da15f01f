"""Alembic environment: runs on the connection handed over by ``bot.db.migrate``."""

from alembic import context

from bot.db import Base

connection = context.config.attributes.get("connection")
target_metadata = Base.metadata

if connection is None:  # pragma: no cover - only via `alembic` CLI without our wrapper
    raise SystemExit("Run migrations through bot.db.migrate (ppp-desk does this at start).")

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
