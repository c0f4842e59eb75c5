"""Identity service: parties, users, tokens, authorisation — asserted on the stored rows too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from accord.audit.service import Disclosure
from accord.clock import FrozenClock
from accord.errors import AlreadyExists, InvalidInput, NotFound
from accord.identity.errors import AuthenticationFailed, PermissionDenied
from accord.identity.models import ApiToken, User
from accord.node import Node
from tests.conftest import World, count_rows


def test_party_is_stored_with_canonical_country_and_audited(node: Node, operator) -> None:
    party = node.identity.add_party(operator, "  Cục A05  ", "LAW_ENFORCEMENT", "vn")
    assert (party.name, party.kind, party.country) == ("Cục A05", "law_enforcement", "VN")
    assert party.id.startswith("party--")
    assert count_rows(node, "audit_entries", "action = 'party.create' AND object_id = :id", id=party.id) == 1


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("country", {"name": "X", "kind": "bank", "country": "XX"}),
        ("country", {"name": "X", "kind": "bank", "country": "VNM"}),
        ("kind", {"name": "X", "kind": "casino", "country": "VN"}),
        ("name", {"name": "   ", "kind": "bank", "country": "VN"}),
        ("name", {"name": "x" * 201, "kind": "bank", "country": "VN"}),
        ("name", {"name": "bad\x00name", "kind": "bank", "country": "VN"}),
    ],
)
def test_invalid_party_names_its_field_and_stores_nothing(node: Node, operator, field: str, kwargs) -> None:
    with pytest.raises(InvalidInput) as caught:
        node.identity.add_party(operator, **kwargs)
    assert caught.value.field == field
    assert count_rows(node, "parties") == 0
    assert count_rows(node, "audit_entries") == 0


def test_duplicate_party_is_refused(node: Node, operator) -> None:
    node.identity.add_party(operator, "A05", "law_enforcement", "VN")
    with pytest.raises(AlreadyExists) as caught:
        node.identity.add_party(operator, "A05", "cert", "VN")
    assert (caught.value.kind, caught.value.key) == ("party", "A05")
    assert count_rows(node, "parties") == 1


def test_generated_password_is_returned_once_and_stored_as_argon2id(node: Node, operator, world: World) -> None:
    user, password = node.identity.add_user(operator, "Lan.Nguyen", world.police.name, ["analyst", "point_of_contact"])
    assert user.username == "lan.nguyen"
    assert user.roles == ["analyst", "point_of_contact"]
    assert password is not None and len(password) >= 20
    with node.db.reading() as session:
        stored = session.scalar(select(User).where(User.username == "lan.nguyen"))
        assert stored is not None
        assert stored.password_hash.startswith("$argon2id$")
        assert password not in stored.password_hash


def test_user_with_given_password_gets_none_back_and_weak_passwords_are_refused(node: Node, operator, world) -> None:
    _user, generated = node.identity.add_user(
        operator, "minh", world.police.id, ["analyst"], password="correct horse battery"
    )
    assert generated is None
    with pytest.raises(InvalidInput) as caught:
        node.identity.add_user(operator, "hoa", world.police.id, ["analyst"], password="short")
    assert caught.value.field == "password"


@pytest.mark.parametrize(
    ("field", "username", "party", "roles"),
    [
        ("username", "Bad Name", "A05 Cybercrime Unit", ["analyst"]),
        ("username", "x", "A05 Cybercrime Unit", ["analyst"]),
        ("role", "ok.name", "A05 Cybercrime Unit", ["superuser"]),
        ("role", "ok.name", "A05 Cybercrime Unit", []),
    ],
)
def test_invalid_user_names_its_field(node: Node, operator, world, field, username, party, roles) -> None:
    before = count_rows(node, "users")
    with pytest.raises(InvalidInput) as caught:
        node.identity.add_user(operator, username, party, roles)
    assert caught.value.field == field
    assert count_rows(node, "users") == before


def test_user_for_unknown_party_is_not_found_and_not_stored(node: Node, operator, world) -> None:
    before = count_rows(node, "users")
    with pytest.raises(NotFound) as caught:
        node.identity.add_user(operator, "ghost", "No Such Party", ["analyst"])
    assert caught.value.kind == "party"
    assert count_rows(node, "users") == before


def test_token_secret_is_never_stored_and_authenticates_its_user(node: Node, operator, world: World) -> None:
    view, secret = node.identity.create_token(operator, "analyst", "script", ["read"], 30)
    assert view.status == "active" and view.scopes == ["read"]
    with node.db.reading() as session:
        row = session.get(ApiToken, view.id)
        assert row is not None
        assert secret.split(".")[2] not in row.secret_hash and len(row.secret_hash) == 64
    actor = node.identity.authenticate_token(secret)
    assert actor.username == "analyst"
    assert actor.scopes == frozenset({"read"})
    assert actor.party_name == "A05 Cybercrime Unit"


def test_expired_and_revoked_tokens_fail(node: Node, operator, world: World, clock: FrozenClock) -> None:
    _view, secret = node.identity.create_token(operator, "analyst", "short-lived", ["read"], 1)
    clock.advance(timedelta(days=1, seconds=1))
    with pytest.raises(AuthenticationFailed) as caught:
        node.identity.authenticate_token(secret)
    assert caught.value.reason == "expired token"
    _view2, secret2 = node.identity.create_token(operator, "analyst", "revoked", ["read"], 5)
    node.identity.authenticate_token(secret2)
    node.identity.revoke_token(node.identity.authenticate_token(world.tokens["analyst"]), _view2.id)
    with pytest.raises(AuthenticationFailed) as caught:
        node.identity.authenticate_token(secret2)
    assert caught.value.reason == "revoked token"


@pytest.mark.parametrize("bad", ["", "accord.", "Bearer x", "accord.aaaaaaaaaaaa." + "b" * 43, "x" * 5000])
def test_unknown_or_malformed_tokens_fail(node: Node, world: World, bad: str) -> None:
    with pytest.raises(AuthenticationFailed):
        node.identity.authenticate_token(bad)


def test_token_lifetime_and_admin_scope_are_bounded(node: Node, operator, world: World) -> None:
    with pytest.raises(InvalidInput) as caught:
        node.identity.create_token(operator, "analyst", "forever", ["read"], 10_000)
    assert caught.value.field == "expires_in_days"
    with pytest.raises(InvalidInput) as caught:
        node.identity.create_token(operator, "analyst", "escalate", ["admin"], 5)
    assert caught.value.field == "scopes"


def test_user_cannot_issue_tokens_for_someone_else(node: Node, world: World) -> None:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    with pytest.raises(PermissionDenied) as caught:
        node.identity.create_token(analyst, "admin", "steal", ["read"], 5)
    assert caught.value.permission == "manage_users"
    assert count_rows(node, "audit_entries", "action = 'access.denied' AND actor = 'analyst'") == 1


def test_read_only_token_cannot_write(node: Node, operator, world: World) -> None:
    _view, secret = node.identity.create_token(operator, "admin", "read only", ["read"], 5)
    actor = node.identity.authenticate_token(secret)
    with pytest.raises(PermissionDenied) as caught:
        node.identity.add_party(actor, "Another", "cert", "VN")
    assert caught.value.missing == "scope"
    with pytest.raises(PermissionDenied):
        node.identity.create_token(actor, "admin", "more", ["read"], 5)


def test_revoking_someone_elses_token_looks_like_not_found(node: Node, world: World) -> None:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    admin_tokens = node.identity.list_tokens(node.identity.authenticate_token(world.tokens["admin"]))
    with pytest.raises(NotFound):
        node.identity.revoke_token(analyst, admin_tokens[0].id)


def test_listing_users_is_an_audited_disclosure(node: Node, world: World) -> None:
    admin = node.identity.authenticate_token(world.tokens["admin"])
    users = node.identity.list_users(admin, Disclosure(purpose="annual access review", legal_basis="DPA art. 5"))
    assert {u.username for u in users} == {"admin", "analyst", "auditor", "partner"}
    with node.db.reading() as session:
        from accord.audit.models import AuditEntry

        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.list")).one()
        assert (entry.purpose, entry.legal_basis, entry.actor) == ("annual access review", "DPA art. 5", "admin")


def test_partner_cannot_list_users_and_the_denial_is_audited(node: Node, world: World) -> None:
    partner = node.identity.authenticate_token(world.tokens["partner"])
    with pytest.raises(PermissionDenied) as caught:
        node.identity.list_users(partner, Disclosure())
    assert (caught.value.permission, caught.value.missing) == ("manage_users", "role")
    assert (
        count_rows(node, "audit_entries", "action = 'access.denied' AND actor = 'partner' AND outcome = 'denied'") == 1
    )


def test_deactivated_user_loses_sessions_and_tokens_at_once(node: Node, world: World) -> None:
    admin = node.identity.authenticate_token(world.tokens["admin"])
    actor = node.login.login("analyst", world.passwords["analyst"], "192.0.2.1")
    opened = node.login.open_session(actor)
    view = node.identity.set_user_active(admin, "analyst", False, Disclosure(purpose="compromised account"))
    assert view.is_active is False
    assert count_rows(node, "web_sessions", "user_id = :u", u=view.id) == 0
    with pytest.raises(AuthenticationFailed):
        node.login.session_state(opened.secret)
    with pytest.raises(AuthenticationFailed) as caught:
        node.identity.authenticate_token(world.tokens["analyst"])
    assert caught.value.reason == "revoked token"
    with pytest.raises(AuthenticationFailed) as caught:
        node.login.login("analyst", world.passwords["analyst"], "192.0.2.1")
    assert caught.value.reason == "inactive user"
    node.identity.set_user_active(admin, "analyst", True, Disclosure(purpose="leaver came back"))
    with pytest.raises(AuthenticationFailed) as caught:  # reactivation does not bring old tokens back
        node.identity.authenticate_token(world.tokens["analyst"])
    assert caught.value.reason == "revoked token"
    assert node.login.login("analyst", world.passwords["analyst"], "192.0.2.1").username == "analyst"
    assert count_rows(node, "audit_entries", "action IN ('user.deactivate', 'user.reactivate')") == 2


def test_admin_cannot_deactivate_themself(node: Node, world: World) -> None:
    admin = node.identity.authenticate_token(world.tokens["admin"])
    with pytest.raises(InvalidInput) as caught:
        node.identity.set_user_active(admin, "admin", False, Disclosure(purpose="x"))
    assert caught.value.field == "is_active"


def test_unchanged_activation_is_audited_as_a_read(node: Node, world: World) -> None:
    admin = node.identity.authenticate_token(world.tokens["admin"])
    node.identity.set_user_active(admin, "partner", True, Disclosure(purpose="check status"))
    assert count_rows(node, "audit_entries", "action = 'user.read' AND purpose = 'check status'") == 1


def test_a_token_cannot_mint_a_wider_token(node: Node, operator, world: World) -> None:
    _view, narrow = node.identity.create_token(operator, "admin", "read write only", ["read", "write"], 5)
    actor = node.identity.authenticate_token(narrow)
    with pytest.raises(PermissionDenied) as caught:
        node.identity.create_token(actor, "admin", "escalate", ["read", "write", "admin"], 5)
    assert caught.value.missing == "scope"
    assert node.identity.create_token(actor, "admin", "narrower", ["read"], 5)[0].scopes == ["read"]


def test_a_non_admin_scoped_token_cannot_revoke_others_tokens(node: Node, operator, world: World) -> None:
    _view, narrow = node.identity.create_token(operator, "admin", "rw", ["read", "write"], 5)
    actor = node.identity.authenticate_token(narrow)
    victim = node.identity.list_tokens(node.identity.authenticate_token(world.tokens["analyst"]))[0]
    with pytest.raises(NotFound):
        node.identity.revoke_token(actor, victim.id)


@pytest.mark.parametrize("bad", ["A05\x00", "x\u202eevil", ""])
def test_control_characters_never_reach_the_database(node: Node, operator, world: World, bad: str) -> None:
    with pytest.raises(NotFound):
        node.identity.add_user(operator, "ok.name", bad, ["analyst"])
    with pytest.raises(InvalidInput):
        node.identity.add_user(operator, "ok.name", world.police.id, ["analyst"], email=f"a{bad}@x.org" if bad else "@")
    admin = node.identity.authenticate_token(world.tokens["admin"])
    with pytest.raises(NotFound):
        node.identity.revoke_token(admin, f"token--{bad}")
    with pytest.raises(AuthenticationFailed):
        node.login.login(f"admin{bad}", "whatever whatever", "192.0.2.1")


def test_checking_a_token_writes_nothing_and_says_when_its_use_is_due(
    node: Node, world: World, clock: FrozenClock
) -> None:
    def last_used() -> object:
        with node.db.reading() as session:
            return session.scalar(select(ApiToken.last_used_at).join(User).where(User.username == "analyst"))

    use = node.identity.check_token(world.tokens["analyst"])
    assert use.actor.username == "analyst" and use.record_due and last_used() is None
    node.identity.record_token_use(use)
    assert last_used() == clock.now()
    assert not node.identity.check_token(world.tokens["analyst"]).record_due  # within LAST_USED_PRECISION
    clock.advance(timedelta(minutes=1))
    later = node.identity.check_token(world.tokens["analyst"])
    assert later.record_due and last_used() != clock.now()
    node.identity.authenticate_token(world.tokens["analyst"])  # checks and writes
    assert last_used() == clock.now()
