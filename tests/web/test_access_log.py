"""The server's access log (web.access_log): one line per request, written in batches, flushed at shutdown."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient

from accord.config import Settings
from accord.web.access_log import AccessLog
from accord.web.app import create_app


def test_one_line_per_request_with_status_and_time(settings: Settings) -> None:
    stream = io.StringIO()
    app = AccessLog(create_app(settings), stream)
    with TestClient(app, base_url="http://testserver") as client:  # type: ignore[arg-type]
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/v1/me?x=1").status_code == 401
    # Leaving the client ends the lifespan: what waited in memory is written.
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith('testclient - "GET /healthz HTTP/1.1" 200 ') and lines[0].endswith(" ms")
    assert '"GET /api/v1/me?x=1 HTTP/1.1" 401 ' in lines[1]
