"""Scratch databases for the benchmarks: a temporary SQLite file, or a PostgreSQL database created for one run
and dropped at the end (also on error or interrupt), so no benchmark leaves anything behind."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url


@contextmanager
def scratch_database(backend: str, server: str, prefix: str = "accord_bench") -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file in a temporary folder, or a database on ``server``."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="accord-bench-") as directory:
            yield f"sqlite:///{Path(directory) / 'accord.db'}"
        return
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def start_helpers(node: Any) -> None:
    """Start the processes that help normalise large lookups and wait for them, as a server that has been up for
    a moment has them (accord serve and accord lookup start them when they open; matching.normalising)."""
    started = node.matching.start_workers(wait_seconds=120)
    print(f"  .. lookup normalising helpers: {'running' if started else 'none (matching_lookup_workers)'}", flush=True)
