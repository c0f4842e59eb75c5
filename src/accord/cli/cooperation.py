"""``accord cooperation tick``: run the cooperation clocks once (the server also runs them every minute)."""

from __future__ import annotations

import logging
import threading

import typer

from accord.cli.context import ctx_of
from accord.config import Settings
from accord.node import open_node

cooperation_app = typer.Typer(help="Cooperation requests and their deadlines.", no_args_is_help=True)
log = logging.getLogger("accord.cooperation")
TICK_SECONDS = 60


@cooperation_app.command("tick")
def tick(ctx: typer.Context) -> None:
    """Expire preservation holds, send the D-14/D-7/D-1 alerts, escalate late emergencies, e-mail what is new."""
    node = ctx_of(ctx).node()
    try:
        counts = node.cooperation_requests.tick()
    finally:
        node.close()
    typer.echo(", ".join(f"{count} {name}" for name, count in counts.items()))


def start_ticker(settings: Settings, stop: threading.Event) -> threading.Thread:
    """Run the clocks every minute beside the web server, in a node of their own, until ``stop`` is set."""

    def run() -> None:
        node = open_node(settings)
        try:
            while not stop.wait(TICK_SECONDS):
                try:
                    counts = node.cooperation_requests.tick()
                    if any(counts.values()):
                        log.info("cooperation clocks: %s", counts)
                except Exception:  # a failing tick must not stop the next one; it is logged with its traceback
                    log.exception("cooperation clocks failed")
        finally:
            node.close()

    thread = threading.Thread(target=run, name="cooperation-clocks", daemon=True)
    thread.start()
    return thread
