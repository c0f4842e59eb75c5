"""One contract for every error response: RFC 9457 problem+json with the same members (datasette's habit)."""

from __future__ import annotations

import pytest

from tests.conftest import World

REQUIRED = {"type", "title", "status", "detail", "instance"}


def _error_requests(world: World, node_settings) -> list[tuple[str, str, dict, dict | str | None]]:
    admin, analyst = world.auth("admin"), world.auth("analyst")
    return [
        ("GET", "/api/v1/me", {}, None),  # 401 no token
        ("GET", "/api/v1/me", {"Authorization": "Bearer accord.x.y"}, None),  # 401 malformed
        ("GET", "/api/v1/users", {**analyst, "Accord-Purpose": "x"}, None),  # 403
        ("GET", "/api/v1/nope", admin, None),  # 404 route
        ("DELETE", "/api/v1/tokens/token--missing", admin, None),  # 404 domain
        ("PUT", "/api/v1/me", admin, None),  # 405
        ("POST", "/api/v1/parties", admin, {"name": "A05 Cybercrime Unit", "kind": "cert", "country": "VN"}),  # 409
        ("POST", "/api/v1/parties", admin, {"name": "X", "kind": "nope", "country": "VN"}),  # 422 domain
        ("POST", "/api/v1/parties", admin, {"name": 5}),  # 422 schema
        ("POST", "/api/v1/parties", {**admin, "Content-Type": "application/json"}, "{not json"),  # 422 parse
        ("POST", "/api/v1/tokens", admin, {"name": "t", "expires_in_days": 0}),  # 422 range
        ("GET", "/api/v1/audit?limit=100000", world.auth("auditor"), None),  # 422 query
        ("GET", "/api/v1/users", admin, None),  # 422 missing purpose header
        (
            "POST",
            "/api/v1/parties",
            {**admin, "Content-Type": "application/json"},
            "x" * (node_settings.max_body_bytes + 5),
        ),
    ]


def test_every_error_is_problem_json(client, world: World, settings) -> None:
    seen_statuses = set()
    for method, path, headers, body in _error_requests(world, settings):
        kwargs: dict = {"headers": headers}
        if isinstance(body, str):
            kwargs["content"] = body
        elif body is not None:
            kwargs["json"] = body
        answer = client.request(method, path, **kwargs)
        assert answer.status_code >= 400, (method, path)
        assert answer.headers["content-type"] == "application/problem+json", (method, path, answer.text)
        problem = answer.json()
        assert REQUIRED <= set(problem), (method, path, problem)
        assert problem["status"] == answer.status_code
        assert problem["instance"] == path.split("?")[0]
        assert problem["type"] == "about:blank" or problem["type"].startswith("urn:accord:problem:")
        if answer.status_code == 422:
            assert problem["errors"] and all({"field", "reason"} <= set(e) for e in problem["errors"])
        seen_statuses.add(answer.status_code)
    assert seen_statuses == {401, 403, 404, 405, 409, 413, 422}


def test_throttled_login_is_429_problem_with_retry_after(client, world: World, settings) -> None:
    # The throttle is shared by the UI and the service; its problem form is what API clients would see.
    from accord.identity.errors import LoginThrottled
    from accord.web.problems import problem_fields, problem_kind

    error = LoginThrottled(42)
    assert problem_kind(error).status == 429
    assert problem_fields(error) == {"retry_after": 42}


@pytest.mark.parametrize("path", ["/admin/users", "/audit", "/tokens"])
def test_pages_send_anonymous_browsers_to_login(client, path: str) -> None:
    answer = client.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next={path}"


def test_browser_errors_are_html_pages_with_the_same_status(client, world: World) -> None:
    answer = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "404" in answer.text


def test_unexpected_errors_are_500_problems_with_security_headers(settings, clock) -> None:
    from fastapi.testclient import TestClient

    from accord.web.app import create_app

    app = create_app(settings, clock=clock)

    def boom() -> None:
        raise RuntimeError("bug")

    app.add_api_route("/api/v1/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/v1/boom")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "urn:accord:problem:internal" and "bug" not in answer.text
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
