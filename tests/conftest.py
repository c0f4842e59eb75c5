"""Fixtures: real SQLite and real PostgreSQL (never a mock of our database), real migrations, injected clock.

Every test that asks for ``database_url`` (directly or through ``settings``, ``node``, ``client``) runs once per
backend in ACCORD_TEST_DATABASES (default: both). Each test gets a database of its own, cloned from one that
the migrations built once per session, so tests are isolated and still fast.
"""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from accord.clock import FrozenClock
from accord.config import Settings, load_settings
from accord.identity.actor import Actor, operator_actor
from accord.node import Node, init_node, open_node
from accord.store import migrate
from accord.store.engine import make_engine

warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)

# Property tests run the same examples every time (CI must not flake on a newly found case); run with
# HYPOTHESIS_PROFILE=explore to search fresh examples locally, and turn what it finds into regression tests.
hypothesis_settings.register_profile("repeatable", derandomize=True)
hypothesis_settings.register_profile("explore", derandomize=False, max_examples=2000)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

BACKENDS = [b.strip() for b in os.environ.get("ACCORD_TEST_DATABASES", "sqlite,postgresql").split(",") if b.strip()]
POSTGRES_SERVER = os.environ.get("ACCORD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _admin_engine() -> Any:
    return create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    name = f"accord_tpl_{os.getpid()}"
    admin = _admin_engine()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = make_engine(make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False))
    migrate.upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@contextmanager
def cloned_database(request: pytest.FixtureRequest, backend: str, folder: Path) -> Iterator[str]:
    """A fresh database of ``backend`` with the current schema, cloned from the session's template."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = folder / "accord.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r} in ACCORD_TEST_DATABASES")
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"accord_t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    try:
        yield make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with cloned_database(request, request.param, tmp_path / "node") as url:
        yield url


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "node"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def settings(home: Path, database_url: str) -> Settings:
    base = load_settings(env={}, overrides={"home": home, "database_url": database_url})
    init_node(base, "Test node — Viet Nam", "VN")
    return load_settings(env={}, overrides={"home": home, "database_url": database_url})


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def node(settings: Settings, clock: FrozenClock) -> Iterator[Node]:
    opened = open_node(settings, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def peer_node(request: pytest.FixtureRequest, database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Node]:
    """Another country's node on the same backend, with its own database, key and blob store."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    home = tmp_path / "peer"
    with cloned_database(request, backend, home) as url:
        base = load_settings(env={}, overrides={"home": home, "database_url": url})
        init_node(base, "Peer node — Philippines", "PH")
        opened = open_node(load_settings(env={}, overrides={"home": home, "database_url": url}), clock=clock)
        try:
            yield opened
        finally:
            opened.close()


@pytest.fixture
def operator() -> Actor:
    return operator_actor("test-operator")


def count_rows(node: Node, table: str, where: str = "", **params: Any) -> int:
    with node.db.reading() as session:
        clause = f" WHERE {where}" if where else ""
        return int(session.execute(text(f"SELECT count(*) FROM {table}{clause}"), params).scalar_one())  # noqa: S608


class World:
    """A small realistic directory: two Vietnamese parties and one Philippine, one user per role."""

    def __init__(self, node: Node, operator: Actor) -> None:
        identity = node.identity
        self.police = identity.add_party(operator, "A05 Cybercrime Unit", "law_enforcement", "VN")
        self.bank = identity.add_party(operator, "Demo Bank VN", "bank", "VN")
        self.pnp = identity.add_party(operator, "PNP Anti-Cybercrime Group", "law_enforcement", "PH")
        self.passwords: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        for username, party, roles in [
            ("admin", self.police.id, ["admin"]),
            ("analyst", self.police.id, ["analyst"]),
            ("auditor", self.police.id, ["auditor"]),
            ("partner", self.bank.id, ["partner"]),
        ]:
            _user, password = identity.add_user(operator, username, party, roles)
            assert password is not None
            self.passwords[username] = password
            scopes = ["read", "write", "admin"] if username == "admin" else ["read", "write"]
            _view, self.tokens[username] = identity.create_token(operator, username, "tests", scopes)

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


@pytest.fixture
def world(node: Node, operator: Actor) -> World:
    return World(node, operator)


@pytest.fixture
def client(settings: Settings, clock: FrozenClock) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from accord.web.app import create_app

    with TestClient(create_app(settings, clock=clock), base_url="http://testserver") as test_client:
        yield test_client


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def live_server(settings: Settings, clock: FrozenClock) -> Iterator[str]:
    """The node served by a real uvicorn on a loopback port, for clients that speak real HTTP. It keeps the
    tests' frozen clock, so what the tests' nodes issue (invitations, tokens) is checked at the moment they
    issued it, whatever the day the tests run."""
    from accord.web.app import create_app
    from accord.web.threaded import served_in_thread

    with served_in_thread(create_app(settings, clock=clock), _free_port()) as url:
        yield url
