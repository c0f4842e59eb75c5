"""Server-rendered pages through the ASGI client: login with CSRF, dashboard, admin, tokens, logout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from accord.node import Node
from tests.conftest import World, count_rows

HTML = {"Accept": "text/html"}
TEMPLATES = Path(__file__).parents[2] / "src" / "accord" / "web" / "templates"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def log_in(client, username: str, password: str) -> str:
    page = client.get("/login", headers=HTML)
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        headers=HTML,
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    dashboard = client.get("/", headers=HTML)
    assert dashboard.status_code == 200
    return csrf_of(dashboard.text)


def test_login_form_needs_its_csrf_token(client, world: World) -> None:
    client.get("/login", headers=HTML)
    answer = client.post(
        "/login", data={"username": "admin", "password": world.passwords["admin"], "csrf_token": "forged"}, headers=HTML
    )
    assert answer.status_code == 403
    assert "accord_session" not in client.cookies


def test_wrong_password_shows_the_form_again_with_401(client, world: World) -> None:
    page = client.get("/login", headers=HTML)
    answer = client.post(
        "/login",
        data={"username": "admin", "password": "wrong password!", "csrf_token": csrf_of(page.text)},
        headers=HTML,
    )
    assert answer.status_code == 401
    assert "The user name or password is wrong." in answer.text


def test_login_throttles_with_429_and_retry_after(client, node: Node, world: World) -> None:
    page = client.get("/login", headers=HTML)
    token = csrf_of(page.text)
    for _ in range(node.settings.login_max_failures):
        client.post(
            "/login", data={"username": "admin", "password": "guess-guess-guess", "csrf_token": token}, headers=HTML
        )
    answer = client.post(
        "/login", data={"username": "admin", "password": world.passwords["admin"], "csrf_token": token}, headers=HTML
    )
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) > 0


def test_session_cookie_is_httponly_and_samesite(client, world: World) -> None:
    page = client.get("/login", headers=HTML)
    answer = client.post(
        "/login",
        data={"username": "admin", "password": world.passwords["admin"], "csrf_token": csrf_of(page.text)},
        headers=HTML,
        follow_redirects=False,
    )
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("accord_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_login_redirect_never_leaves_the_site(client, world: World) -> None:
    page = client.get("/login?next=//evil.example/", headers=HTML)
    answer = client.post(
        "/login",
        data={
            "username": "admin",
            "password": world.passwords["admin"],
            "csrf_token": csrf_of(page.text),
            "next": "//evil.example/",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_dashboard_shows_node_user_and_activity(client, world: World, node: Node) -> None:
    log_in(client, "analyst", world.passwords["analyst"])
    page = client.get("/", headers=HTML).text
    assert node.keys.node_id in page
    assert "A05 Cybercrime Unit" in page
    assert "login.succeeded" in page
    assert 'href="/admin/users"' not in page  # an analyst does not see admin navigation


def test_admin_creates_party_and_user_through_forms(client, node: Node, world: World) -> None:
    token = log_in(client, "admin", world.passwords["admin"])
    answer = client.post(
        "/admin/parties",
        data={"name": "Cyber Security Authority", "kind": "cert", "country": "GH", "csrf_token": token},
        headers=HTML,
    )
    assert answer.status_code == 200 and "Cyber Security Authority" in answer.text
    bad = client.post(
        "/admin/parties", data={"name": "Nowhere", "kind": "cert", "country": "QQ", "csrf_token": token}, headers=HTML
    )
    assert bad.status_code == 422 and "country" in bad.text
    created = client.post(
        "/admin/users",
        data={"username": "kofi", "party": world.pnp.id, "roles": ["analyst", "point_of_contact"], "csrf_token": token},
        headers=HTML,
    )
    assert created.status_code == 200
    password = re.search(r'id="new-password">([^<]+)<', created.text)
    assert password is not None
    assert node.login.login("kofi", password.group(1), "127.0.0.1").username == "kofi"


def test_form_posts_without_csrf_are_refused_and_change_nothing(client, node: Node, world: World) -> None:
    log_in(client, "admin", world.passwords["admin"])
    answer = client.post("/admin/parties", data={"name": "Sneaky", "kind": "cert", "country": "GH"}, headers=HTML)
    assert answer.status_code == 403
    assert count_rows(node, "parties", "name = 'Sneaky'") == 0


def test_partner_gets_403_on_admin_pages_and_it_is_audited(client, node: Node, world: World) -> None:
    log_in(client, "partner", world.passwords["partner"])
    answer = client.get("/admin/users", headers=HTML)
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert count_rows(node, "audit_entries", "action = 'access.denied' AND actor = 'partner'") == 1


def test_tokens_page_creates_shows_once_and_revokes_with_htmx(client, node: Node, world: World) -> None:
    token = log_in(client, "analyst", world.passwords["analyst"])
    created = client.post(
        "/tokens",
        data={"name": "triage script", "scopes": ["read"], "expires_in_days": "30", "csrf_token": token},
        headers=HTML,
    )
    secret = re.search(r'id="new-token">([^<]+)<', created.text)
    assert secret is not None
    assert node.identity.authenticate_token(secret.group(1)).username == "analyst"
    assert secret.group(1) not in client.get("/tokens", headers=HTML).text  # shown once only
    token_id = next(
        t.id
        for t in node.identity.list_tokens(node.identity.authenticate_token(secret.group(1)))
        if t.name == "triage script"
    )
    row = client.post(f"/tokens/{token_id}/revoke", headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert row.status_code == 200 and "revoked" in row.text and "<html" not in row.text


def test_logout_ends_the_session_on_the_server(client, world: World) -> None:
    token = log_in(client, "admin", world.passwords["admin"])
    cookie = client.cookies.get("accord_session")
    client.post("/logout", data={"csrf_token": token}, headers=HTML)
    client.cookies.set("accord_session", cookie)  # a copied cookie must not work after logout
    answer = client.get("/", headers=HTML, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_audit_page_lists_entries_and_verifies(client, world: World) -> None:
    token = log_in(client, "auditor", world.passwords["auditor"])
    page = client.get("/audit?action=login.", headers=HTML)
    assert page.status_code == 200 and "login.succeeded" in page.text
    result = client.post("/audit/verify", headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert "The chain is intact" in result.text


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")))
def test_templates_hold_no_inline_script_or_style(template: str) -> None:
    """The CSP forbids inline script and style; a template that used them would break silently in browsers."""
    source = (TEMPLATES / template).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source)
    assert not re.search(r"\son[a-z]+\s*=", source)
    assert not re.search(r"\sstyle\s*=", source)
    assert "<style" not in source


def test_vietnamese_is_chosen_from_accept_language_and_cookie(client) -> None:
    page = client.get("/login", headers={**HTML, "Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"})
    assert 'lang="vi"' in page.text and "Đăng nhập" in page.text
    client.post("/locale", data={"locale": "en", "csrf_token": csrf_of(page.text)}, headers=HTML)
    page = client.get("/login", headers={**HTML, "Accept-Language": "vi"})
    assert 'lang="en"' in page.text and "Log in" in page.text


def test_admin_deactivates_a_user_from_the_users_page(client, node: Node, world: World) -> None:
    token = log_in(client, "admin", world.passwords["admin"])
    page = client.post("/admin/users/analyst/active", data={"active": "false", "csrf_token": token}, headers=HTML)
    assert page.status_code == 200 and "deactivated" in page.text
    assert count_rows(node, "users", "username = 'analyst' AND is_active = :f", f=False) == 1
    own = client.post("/admin/users/admin/active", data={"active": "false", "csrf_token": token}, headers=HTML)
    assert own.status_code == 422
