"""``accord``: init, serve, demo, party, user, token, node, audit, config, intel, lookup.

Errors end in one line on stderr: exit 2 for bad arguments or settings, 1 for anything else refused.
``--verbose`` adds the traceback.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from typer.exceptions import Abort, TyperException

from accord.cli import admin, audit, config, cooperation, evidence, intel, lookup, node, peer, server, sharing
from accord.cli.context import CliContext, parse_setting_flags
from accord.config import InvalidSetting
from accord.errors import AccordError, InvalidInput

app = typer.Typer(
    name="accord",
    help="Accord: a national node for cross-border cooperation against cybercrime.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(admin.party_app, name="party")
app.add_typer(admin.user_app, name="user")
app.add_typer(admin.token_app, name="token")
app.add_typer(node.node_app, name="node")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(config.config_app, name="config")
app.add_typer(intel.intel_app, name="intel")
app.add_typer(evidence.evidence_app, name="evidence")
app.add_typer(cooperation.cooperation_app, name="cooperation")
app.add_typer(peer.peer_app, name="peer")
app.command("init")(node.init)
app.command("serve")(server.serve)
app.command("demo")(server.demo)
app.command("lookup")(lookup.lookup)
app.command("sync")(sharing.sync)


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(help="The node's folder (ACCORD_HOME).")] = None,
    database_url: Annotated[str | None, typer.Option(help="Database URL (ACCORD_DATABASE_URL).")] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="Config file (default: HOME/accord.toml).")
    ] = None,
    setting: Annotated[
        list[str] | None, typer.Option("--setting", "-s", help="Any setting as NAME=VALUE; repeatable.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors.")] = False,
) -> None:
    overrides: dict[str, object] = dict(parse_setting_flags(setting or []))
    if home is not None:
        overrides["home"] = home
    if database_url is not None:
        overrides["database_url"] = database_url
    ctx.obj = CliContext(overrides=overrides, config_file=config_file, verbose=verbose)


def _exit_code(exc: AccordError) -> int:
    return 2 if isinstance(exc, InvalidInput | InvalidSetting) else 1


def run(argv: list[str] | None = None) -> int:
    """Entry point: one-line diagnostics, never a traceback unless --verbose."""
    args = sys.argv[1:] if argv is None else argv
    verbose = "--verbose" in args or "-v" in args
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="accord", standalone_mode=False)
    except TyperException as exc:  # usage errors (exit 2) and other command-line problems
        message = exc.format_message()
        if message.strip():  # empty when the help text was printed instead ("no arguments")
            typer.echo(f"accord: {message.strip().splitlines()[0]}", err=True)
        return exc.exit_code
    except Abort:
        typer.echo("accord: aborted", err=True)
        return 1
    except AccordError as exc:
        if verbose:
            traceback.print_exc()
        typer.echo(f"accord: {exc}", err=True)
        return _exit_code(exc)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the CLI's outer edge: one line, details with --verbose
        if verbose:
            traceback.print_exc()
        typer.echo(f"accord: unexpected error: {type(exc).__name__}: {exc}", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(run())
