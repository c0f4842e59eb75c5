"""Serving an app with a real uvicorn in a thread of this process: the three-node demo serves its nodes this way,
and tests serve nodes for clients that speak real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp


@contextmanager
def served_in_thread(app: ASGIApp, port: int, *, host: str = "127.0.0.1", start_timeout: float = 30) -> Iterator[str]:
    """Serve ``app`` on ``host:port`` until the block ends; yields its base URL. Raises RuntimeError when the
    server does not start (a taken port, for one)."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError(f"the server on {host}:{port} did not start (is the port taken?)")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
