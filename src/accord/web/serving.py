"""Running the web app under uvicorn: one process, or several on one port.

Several processes are how a node uses more than one core: Python runs one thread of Accord code at a time per
process. Everything the processes must agree on lives in the database (the audit chain, login throttling, the
identity epoch behind each process's caches, the signatures of peer calls already seen), so any process may
answer any request.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import threading
import time
from functools import partial
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from accord.config import Settings
from accord.errors import AccordError
from accord.web.access_log import AccessLog
from accord.web.app import create_app

LISTEN_BACKLOG = 2048  # uvicorn's default
STARTUP_GRACE_SECONDS = 30.0  # a worker that exits sooner than this after starting failed to start
STOP_GRACE_SECONDS = 30.0  # after SIGTERM, how long a worker may finish its requests before it is killed
POLL_SECONDS = 0.5


class WorkerFailed(AccordError):
    """A web server process exited while starting (its own messages, above, say why)."""

    def __init__(self, index: int, exitcode: int | None) -> None:
        self.index, self.exitcode = index, exitcode
        super().__init__(f"web server process {index + 1} exited while starting (exit code {exitcode})")


def run_server(settings: Settings, *, log_level: str = "info") -> None:
    """Serve the node on ``settings.host``:``settings.port`` with ``settings.server_workers`` processes, until
    interrupted (Ctrl-C or SIGTERM). Raises WorkerFailed if a worker process cannot start."""
    # uvicorn's own access log is off: web.access_log writes the same lines for a fraction of the cost.
    options: dict[str, Any] = {
        "proxy_headers": settings.trust_proxy_headers,
        "log_level": log_level,
        "access_log": False,
    }
    if settings.server_workers == 1:
        uvicorn.run(served_app(settings), host=settings.host, port=settings.port, **options)
    else:
        _supervise(settings, options)


def served_app(settings: Settings) -> ASGIApp:
    """The node's app as ``accord serve`` runs it: with the access log when ``access_log`` is on."""
    app = create_app(settings)
    return AccessLog(app) if settings.access_log else app


def _listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket of its own for one worker, on the shared port (SO_REUSEPORT).

    One socket per worker, not one shared by all as uvicorn's own ``--workers`` does: on a shared socket the
    first worker to wake accepts every waiting connection at once, so a burst of keep-alive clients all land on
    one process and the others idle (measured: 100 % against 28 % CPU). With SO_REUSEPORT the kernel spreads
    new connections over the workers' sockets.
    """
    family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def _worker(settings: Settings, sock: socket.socket, options: dict[str, Any]) -> None:
    """One worker process (started with "spawn": it imports Accord afresh and builds its own app, engine and
    connection pool; no connection or lock crosses a fork)."""
    config = uvicorn.Config(partial(served_app, settings), factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


def _supervise(settings: Settings, options: dict[str, Any]) -> None:
    """Start the workers, replace one that dies after it started, stop them all on SIGINT or SIGTERM."""
    spawn = multiprocessing.get_context("spawn")
    sockets = [_listening_socket(settings.host, settings.port) for _ in range(settings.server_workers)]
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def start(index: int) -> tuple[BaseProcess, float]:
        process = spawn.Process(
            target=_worker, args=(settings, sockets[index], options), name=f"accord-web-{index + 1}", daemon=False
        )
        process.start()
        return process, time.monotonic()

    workers = [start(index) for index in range(len(sockets))]
    try:
        while not stopping.wait(POLL_SECONDS):
            for index, (process, started) in enumerate(workers):
                if process.is_alive() or stopping.is_set():
                    continue
                if time.monotonic() - started < STARTUP_GRACE_SECONDS:
                    raise WorkerFailed(index, process.exitcode)
                workers[index] = start(index)  # it served, then died: replace it on the same socket
    finally:
        for process, _started in workers:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight, then exits
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process, _started in workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for sock in sockets:
            sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
