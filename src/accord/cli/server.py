"""``accord serve`` and ``accord demo``."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from accord.cli.context import ctx_of, operator
from accord.cli.cooperation import start_ticker
from accord.demo.cooperation import seed_cooperation
from accord.demo.evidence import CASE, seed_evidence
from accord.demo.federation import play
from accord.demo.intel import seed_intel
from accord.demo.seed import DEMO_NODE_COUNTRY, DEMO_NODE_NAME, seed_identity
from accord.errors import InvalidInput
from accord.federation.worker import start_federation_loop
from accord.node import init_node, open_node
from accord.web.app import create_app
from accord.web.serving import run_server

DEMO_MARKER = ".accord-demo"
DEFAULT_DATA_DIR = Path(
    "../shared/data"
)  # the project's shared data sets, beside the checkout  # only a folder holding this file is ever wiped by accord demo


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Listen address (setting host).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (setting port).", min=1, max=65535)] = None,
    workers: Annotated[
        int | None, typer.Option(help="Web server processes, up to one per core (setting server_workers).", min=1)
    ] = None,
) -> None:
    """Serve the web UI and the API."""
    extra: dict[str, object] = {}
    if host is not None:
        extra["host"] = host
    if port is not None:
        extra["port"] = port
    if workers is not None:
        extra["server_workers"] = workers
    settings = ctx_of(ctx).settings(**extra)
    # Open the node once here, whatever the number of workers: a missing key, an old schema or a warninglist that
    # cannot be loaded stops the command with its one-line error before any worker starts (create_app checks
    # the same in each worker).
    node = open_node(settings)
    try:
        _ = node.keys, node.matching
    finally:
        node.close()
    processes = f", {settings.server_workers} processes" if settings.server_workers > 1 else ""
    typer.echo(f"Accord node {settings.node_name} on http://{settings.host}:{settings.port}/{processes}")
    stop = threading.Event()
    start_ticker(settings, stop)
    start_federation_loop(settings, stop)
    try:
        run_server(settings)
    finally:
        stop.set()


def demo(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to serve the demo on.", min=1, max=65535)] = 8000,
    folder: Annotated[Path, typer.Option("--dir", help="Folder of the demo node (wiped and recreated).")] = Path(
        "var/demo"
    ),
    seed_only: Annotated[bool, typer.Option("--seed-only", help="Create and seed the node, do not serve it.")] = False,
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder with MITRE ATT&CK in STIX 2.1 (default: ../shared/data if present).")
    ] = None,
    nodes: Annotated[
        int,
        typer.Option(
            help="1: one node with three countries' parties; 3: three peered national nodes on ports P, P+1, P+2 "
            "playing a cross-border case."
        ),
    ] = 1,
) -> None:
    """Create a fresh demo on SQLite (one node, or three peered national nodes), then serve it."""
    if nodes not in (1, 3):
        raise InvalidInput("--nodes", "1 (one node) or 3 (three peered national nodes)")
    if nodes == 3 and port > 65535 - 2:
        raise InvalidInput("--port", "the three nodes need ports P, P+1 and P+2")
    home = folder.resolve()
    if data_dir is None and DEFAULT_DATA_DIR.exists():
        data_dir = DEFAULT_DATA_DIR
    if home.exists():
        if not (home / DEMO_MARKER).exists():
            raise InvalidInput("--dir", f"{home} exists and is not an Accord demo folder; refusing to wipe it")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / DEMO_MARKER).write_text("This folder is recreated by `accord demo`.\n", encoding="utf-8")
    if nodes == 3:
        typer.echo(f"Three national nodes in {home}: Viet Nam, the Philippines and Ghana")
        play(home, port, operator(), serve=not seed_only, echo=typer.echo)
        return
    # The demo always runs on its own SQLite file, whatever ACCORD_DATABASE_URL says.
    settings = ctx_of(ctx).settings(home=home, database_url="", host="127.0.0.1", port=port)
    init_node(settings, DEMO_NODE_NAME, DEMO_NODE_COUNTRY)
    settings = ctx_of(ctx).settings(home=home, database_url="", host="127.0.0.1", port=port)
    node = open_node(settings)
    try:
        logins, party_ids = seed_identity(node.identity, operator())
        typer.echo("Importing demo intelligence (MITRE ATT&CK and scam reports)...")
        intel = seed_intel(node.intel, operator(), party_ids, data_dir)
        typer.echo("Registering demo evidence (a phone extraction and a telecom production) and exporting it...")
        evidence = seed_evidence(node, operator(), party_ids)
        typer.echo("Opening demo cooperation requests (preservation, MLA, emergency) and the 24/7 directory...")
        cooperation = seed_cooperation(node, operator(), party_ids)
    finally:
        node.close()
    url = f"http://127.0.0.1:{port}/"
    typer.echo(f"Demo node: {settings.node_name} ({settings.node_country}) in {home}")
    typer.echo(f"Intelligence: {intel.attack_objects} ATT&CK objects, {intel.scam_reports} scam reports")
    typer.echo(f"Evidence: {len(evidence.items)} items in case {CASE}; package {evidence.package}")
    typer.echo(f"Check the package offline: accord evidence verify {evidence.package}")
    typer.echo(
        "Cooperation: a preservation request kept alive by an MLA request, and an emergency request waiting to be "
        f"acknowledged (Viet Nam to the Philippines); {cooperation.directory_entries} directory entries"
    )
    typer.echo("Logins (passwords are new on every run):")
    for login in logins:
        typer.echo(f"  {login.username:<12} {login.password}   {', '.join(login.roles)} — {login.party}")
    if seed_only:
        return
    typer.echo(f"Open {url} (Ctrl-C to stop)")
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
