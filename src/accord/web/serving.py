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
from multiprocessing.synchronize import Event as EventType
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from accord.config import Settings
from accord.errors import AccordError
from accord.web.access_log import AccessLog
from accord.web.app import create_app
from accord.web.handoff import HandedServer, channel_pair, hand_out

LISTEN_BACKLOG = 2048  # uvicorn's default
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
    family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(LISTEN_BACKLOG)
    return sock


def _worker(settings: Settings, channel: socket.socket, options: dict[str, Any], ready: EventType) -> None:
    """One worker process (started with "spawn": it imports Accord afresh and builds its own app, engine and
    connection pool; no connection or lock crosses a fork). It serves the connections the parent hands it."""
    config = uvicorn.Config(partial(served_app, settings), factory=True, **options)
    HandedServer(config, channel, ready.set).run()


def _supervise(settings: Settings, options: dict[str, Any]) -> None:
    """Accept in this process and hand connections to the workers in turn (web.handoff); replace a worker that
    dies after it started; stop them all on SIGINT or SIGTERM."""
    spawn = multiprocessing.get_context("spawn")
    listener = _listening_socket(settings.host, settings.port)
    count = settings.server_workers
    channels: list[socket.socket | None] = [None] * count
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def start(index: int) -> tuple[BaseProcess, EventType]:
        parent_end, worker_end = channel_pair()
        ready = spawn.Event()
        process = spawn.Process(
            target=_worker, args=(settings, worker_end, options, ready), name=f"accord-web-{index + 1}", daemon=False
        )
        process.start()
        worker_end.close()  # the worker has its own copy
        old, channels[index] = channels[index], parent_end
        if old is not None:
            old.close()
        return process, ready

    workers = [start(index) for index in range(count)]
    accepting = threading.Thread(
        target=hand_out, args=(listener, lambda: list(channels), stopping), name="accord-accept", daemon=True
    )
    accepting.start()
    try:
        while not stopping.wait(POLL_SECONDS):
            for index, (process, ready) in enumerate(workers):
                if process.is_alive() or stopping.is_set():
                    continue
                if not ready.is_set():
                    raise WorkerFailed(index, process.exitcode)  # it never served: a restart would fail again
                workers[index] = start(index)  # it served, then died: replace it with a fresh channel
    finally:
        stopping.set()
        accepting.join()
        listener.close()  # no new connections; those handed out finish in their workers
        for process, _ready in workers:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight, then exits
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process, _ready in workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for channel in channels:
            if channel is not None:
                channel.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
