"""Alembic environment: runs on the engine handed over by ``accord.store.migrate``."""

from __future__ import annotations

from alembic import context

from accord.store.models import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
