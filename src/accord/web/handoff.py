"""Spreading connections over server processes: the parent accepts, each worker serves the ones it is handed.

Why not let the workers accept from the listening socket themselves? On one shared socket the first worker to
wake accepts every waiting connection (asyncio and libuv accept in a loop), so a burst of keep-alive clients all
land on one process (measured: 100 % against 28 % CPU). With a socket per worker (SO_REUSEPORT) the kernel
picks one by a hash of the addresses, so eight clients split 4/4 only about one time in four and 6/2 or 7/1
often (measured: 662 against 1,093 requests/s for the same eight clients). Here the parent accepts each
connection and hands its file descriptor (SCM_RIGHTS) to the workers in turn, so connections split evenly;
after that the parent is not in the path: each worker talks to its clients directly.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn

logger = logging.getLogger(__name__)

ACCEPT_POLL_SECONDS = 0.5  # how often the accepting thread looks whether the server is stopping
MAX_FDS_PER_MESSAGE = 32


def channel_pair() -> tuple[socket.socket, socket.socket]:
    """(parent end, worker end) of the Unix socket connections are handed over on."""
    parent, worker = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    worker.set_inheritable(True)
    return parent, worker


def hand_out(
    listener: socket.socket, channels: Callable[[], Sequence[socket.socket | None]], stopping: threading.Event
) -> None:
    """Accept on ``listener`` until ``stopping`` is set, handing each connection to the next worker in turn.

    ``channels()`` gives the current parent ends (None for a worker being replaced); a worker whose channel
    fails is skipped for that connection. Runs in a thread of the parent process.
    """
    listener.settimeout(ACCEPT_POLL_SECONDS)
    turn = 0
    while not stopping.is_set():
        try:
            connection, _address = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            if stopping.is_set():
                return
            logger.warning("accepting a connection failed", exc_info=True)
            time.sleep(ACCEPT_POLL_SECONDS / 10)  # out of file descriptors, say: do not spin on it
            continue
        with connection:
            current = channels()
            for attempt in range(len(current)):
                channel = current[(turn + attempt) % len(current)]
                if channel is None:
                    continue
                try:
                    socket.send_fds(channel, [b"c"], [connection.fileno()])
                except OSError:
                    continue  # that worker is gone; the supervisor replaces it
                turn = (turn + attempt + 1) % len(current)
                break
            # The worker holds its own copy of the descriptor now; this one closes as the block ends.


class HandedServer(uvicorn.Server):
    """A uvicorn server that serves the connections handed to it on ``channel`` instead of listening itself.

    It overrides ``startup`` and ``shutdown`` only: the lifespan, the HTTP protocol objects, graceful shutdown
    of open connections and signal handling are uvicorn's.
    """

    def __init__(self, config: uvicorn.Config, channel: socket.socket, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._channel = channel
        self._on_started = on_started
        self._attaching: set[asyncio.Task[Any]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(3)  # uvicorn's STARTUP_FAILURE
        config = self.config
        loop = asyncio.get_running_loop()

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=_loop
            )

        def receive() -> None:
            try:
                message, fds, _flags, _address = socket.recv_fds(self._channel, 64, MAX_FDS_PER_MESSAGE)
            except BlockingIOError:
                return
            except OSError:
                message, fds = b"", []
            if not message and not fds:  # the parent is gone: stop taking connections, let uvicorn wind down
                loop.remove_reader(self._channel.fileno())
                self.should_exit = True
                return
            for fd in fds:
                connection = socket.socket(fileno=fd)
                connection.setblocking(False)
                task = loop.create_task(loop.connect_accepted_socket(create_protocol, connection))
                self._attaching.add(task)  # a reference until it is done, so it is not collected half-way
                task.add_done_callback(self._attaching.discard)

        self._channel.setblocking(False)
        loop.add_reader(self._channel.fileno(), receive)
        self.servers = []
        self.started = True
        self._on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        try:
            loop.remove_reader(self._channel.fileno())
        except (ValueError, OSError):  # already closed
            pass
        await super().shutdown(sockets)
