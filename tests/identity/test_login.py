"""Password login, throttling, and server-side sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accord.clock import FrozenClock
from accord.identity.errors import AuthenticationFailed, LoginThrottled
from accord.node import Node
from tests.conftest import World, count_rows


def test_login_succeeds_and_is_audited(node: Node, world: World) -> None:
    actor = node.login.login("ANALYST ", world.passwords["analyst"], "192.0.2.10")
    assert actor.username == "analyst" and actor.via == "session" and actor.scopes is None
    assert count_rows(node, "audit_entries", "action = 'login.succeeded' AND actor = 'analyst'") == 1


def test_wrong_password_and_unknown_user_fail_alike(node: Node, world: World) -> None:
    with pytest.raises(AuthenticationFailed) as wrong:
        node.login.login("analyst", "not the password", "192.0.2.10")
    with pytest.raises(AuthenticationFailed) as unknown:
        node.login.login("nobody", "whatever password", "192.0.2.10")
    assert str(wrong.value) == str(unknown.value)  # the client sees the same message
    assert (wrong.value.reason, unknown.value.reason) == ("wrong password", "unknown user")
    assert count_rows(node, "audit_entries", "action = 'login.failed'") == 2


def test_repeated_failures_throttle_that_client_even_with_the_right_password(
    node: Node, world: World, clock: FrozenClock
) -> None:
    limit = node.settings.login_max_failures
    for _ in range(limit):
        with pytest.raises(AuthenticationFailed):
            node.login.login("analyst", "guess guess guess", "198.51.100.7")
    with pytest.raises(LoginThrottled) as caught:
        node.login.login("analyst", world.passwords["analyst"], "198.51.100.7")
    assert 0 < caught.value.retry_after <= node.settings.login_window_seconds
    assert count_rows(node, "audit_entries", "action = 'login.throttled' AND actor = 'analyst'") == 1
    # A stranger's guesses do not lock the real user out from their own desk.
    assert node.login.login("analyst", world.passwords["analyst"], "203.0.113.99").username == "analyst"
    clock.advance(timedelta(seconds=node.settings.login_window_seconds + 1))
    assert node.login.login("analyst", world.passwords["analyst"], "198.51.100.7").username == "analyst"


def test_password_spraying_from_one_client_throttles_that_client(node: Node, world: World) -> None:
    from accord.identity.login import SPRAY_FACTOR

    for index in range(node.settings.login_max_failures * SPRAY_FACTOR):
        with pytest.raises(AuthenticationFailed):
            node.login.login(f"spray{index}", "password123456", "198.51.100.8")
    with pytest.raises(LoginThrottled):
        node.login.login("auditor", world.passwords["auditor"], "198.51.100.8")
    assert node.login.login("auditor", world.passwords["auditor"], "198.51.100.9").username == "auditor"


def test_distributed_guessing_at_one_name_throttles_that_name(node: Node, world: World) -> None:
    from accord.identity.login import DISTRIBUTED_FACTOR

    for index in range(node.settings.login_max_failures * DISTRIBUTED_FACTOR):
        with pytest.raises(AuthenticationFailed):
            node.login.login("admin", "guess guess guess", f"10.0.{index // 250}.{index % 250}")
    with pytest.raises(LoginThrottled):
        node.login.login("admin", world.passwords["admin"], "192.0.2.200")


def test_typed_unknown_names_are_never_written_down(node: Node, world: World) -> None:
    with pytest.raises(AuthenticationFailed):
        node.login.login("MySecretPassw0rd!", "whatever it is", "192.0.2.5")
    with node.db.reading() as session:
        from sqlalchemy import text

        dumped = " ".join(str(v) for row in session.execute(text("SELECT * FROM audit_entries")) for v in row)
        dumped += " ".join(str(v) for row in session.execute(text("SELECT * FROM login_failures")) for v in row)
    assert "mysecretpassw0rd" not in dumped.lower()
    assert count_rows(node, "audit_entries", "action = 'login.failed' AND actor = '(unknown user)'") == 1


def test_session_lasts_its_max_age_and_logout_ends_it(node: Node, world: World, clock: FrozenClock) -> None:
    actor = node.login.login("admin", world.passwords["admin"], "192.0.2.1")
    opened = node.login.open_session(actor)
    state = node.login.session_state(opened.secret)
    assert state.actor.username == "admin" and state.csrf_token == opened.csrf_token
    assert count_rows(node, "web_sessions", "secret_hash = :s", s=opened.secret) == 0  # only the hash is stored
    node.login.close_session(opened.secret)
    with pytest.raises(AuthenticationFailed):
        node.login.session_state(opened.secret)
    second = node.login.open_session(actor)
    clock.advance(timedelta(seconds=node.settings.session_max_age_seconds))
    with pytest.raises(AuthenticationFailed) as caught:
        node.login.session_state(second.secret)
    assert caught.value.reason == "expired session"
