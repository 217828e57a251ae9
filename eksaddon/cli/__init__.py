"""The command line: thin click commands that parse, call one domain function, render, exit.

Nothing here, nor anything an offline command imports, may import boto3 or kubernetes: ``--help``
and offline runs must start fast (a test checks ``sys.modules``). Commands are loaded on demand,
so an offline ``check-compat`` never pays for the upgrade engine's modules.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from eksaddon import __version__, signals_interrupt
from eksaddon.cli.boundary import run
from eksaddon.cli.options import GlobalOptions

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# name -> "module:attribute"; the order is the order of --help.
COMMANDS = {
    "check-compat": "eksaddon.cli.check_compat_cmd:check_compat_command",
    "install": "eksaddon.cli.upgrade_cmd:install_command",
    "matrix": "eksaddon.cli.matrix_cmd:matrix_group",
    "migrate": "eksaddon.cli.migrate_cmd:migrate_command",
    "plan": "eksaddon.cli.plan_cmd:plan_command",
    "render": "eksaddon.cli.render_cmd:render_command",
    "status": "eksaddon.cli.status_cmd:status_command",
    "upgrade": "eksaddon.cli.upgrade_cmd:upgrade_command",
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is used (or listed)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="eksaddon")
@click.option(
    "--matrix",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Matrix file to use instead of the bundled one (also $EKSADDON_MATRIX).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, matrix: Path | None, debug: bool) -> None:
    """Plan, check and carry out safe Amazon EKS add-on upgrades (vpc-cni first).

    Exit codes: 0 passed, 1 check failed, 2 usage or input error, 3 environment or API error,
    4 upgrade stopped part-way (journal kept), 130 interrupted.
    """
    ctx.obj = GlobalOptions(matrix=matrix, debug=debug)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI inside the error boundary and exit with its code."""
    args = sys.argv[1:] if argv is None else argv

    def invoke() -> int:
        # Not cli.main(): it prints to stderr on Ctrl-C and on usage errors itself, and the error
        # boundary must stay the only place that writes an error line.
        with cli.make_context("eksaddon", list(args)) as ctx:
            return int(cli.invoke(ctx) or 0)

    # From here the boundary is active: SIGINT and SIGTERM become exit 130 and one line.
    with signals_interrupt():
        code = run(invoke, args)
    sys.exit(code)
