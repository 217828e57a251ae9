"""The command line: thin click commands that parse, call one domain function, render, exit.

Nothing here, nor anything an offline command imports, may import boto3 or kubernetes: ``--help``
and offline runs must start fast (a test checks ``sys.modules``). Commands are loaded on demand,
so an offline ``check-compat`` never pays for the upgrade engine's modules, and ``eksaddon --help``
(or completing a command's name) loads none of them: the group lists each command's first help
line from :data:`COMMANDS` (a test checks it against every command's docstring).
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from eksaddon import __version__, signals_interrupt
from eksaddon.cli.boundary import run

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
PROGRAM = "eksaddon"
# click's completion protocol: the shell sets this to e.g. "bash_complete" (cli/completion.py).
COMPLETE_VAR = "_EKSADDON_COMPLETE"


class Entry:
    """Where a command lives, and the first paragraph of its help (for the group's listing)."""

    __slots__ = ("help", "target")

    def __init__(self, target: str, help: str) -> None:
        self.target = target
        self.help = help


# name -> where it lives and its help's first paragraph; the order is the order of --help.
COMMANDS = {
    "check-compat": Entry(
        "eksaddon.cli.check_compat_cmd:check_compat_command",
        "Check an add-on version against a Kubernetes version (and the one you move to).",
    ),
    "cluster-upgrade": Entry(
        "eksaddon.cli.cluster_upgrade_cmd:cluster_upgrade_command",
        "Upgrade a cluster to the next Kubernetes minor: gate, add-ons, control plane, add-ons.",
    ),
    "completion": Entry(
        "eksaddon.cli.completion:completion_command",
        "Print the shell completion script for bash, zsh or fish.",
    ),
    "install": Entry(
        "eksaddon.cli.upgrade_cmd:install_command",
        "Create the EKS add-on on a cluster that has none.",
    ),
    "matrix": Entry(
        "eksaddon.cli.matrix_cmd:matrix_group", "Show, refresh or diff the compatibility matrix."
    ),
    "migrate": Entry(
        "eksaddon.cli.migrate_cmd:migrate_command",
        "Make a self-managed add-on the EKS add-on at the same release; no setting may change.",
    ),
    "plan": Entry(
        "eksaddon.cli.plan_cmd:plan_command",
        "Plan a safe upgrade or downgrade, one minor version per step.",
    ),
    "render": Entry(
        "eksaddon.cli.render_cmd:render_command",
        "Print the node-side manifest (RBAC, CRDs, ConfigMap, DaemonSet) of a release, or with "
        "--helm-values the Helm chart values that carry the same settings.",
    ),
    "status": Entry(
        "eksaddon.cli.status_cmd:status_command",
        "The add-on as EKS and the nodes see it: type, version, health, settings, the path on.",
    ),
    "upgrade": Entry(
        "eksaddon.cli.upgrade_cmd:upgrade_command",
        "Carry a managed add-on to a version one minor step at a time; resumable.",
    ),
}


def _short_help(name: str, limit: int) -> str:
    # click's own shortening, as the command itself would give it (without importing it).
    return click.Command(name, help=COMMANDS[name].help).get_short_help_str(limit)


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attribute = entry.target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing (name and short help per command) without importing any command."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        with formatter.section("Commands"):
            formatter.write_dl([(name, _short_help(name, limit)) for name in COMMANDS])

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        """Command names (as click's Group would offer them) and the group's own options."""
        from click.shell_completion import CompletionItem

        names = [
            CompletionItem(name, help=_short_help(name, 45))
            for name in COMMANDS
            if name.startswith(incomplete)
        ]
        return names + click.Command.shell_complete(self, ctx, incomplete)


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--version``: eksaddon's version and each bundled matrix with its as-of date."""
    if not value or ctx.resilient_parsing:
        return
    from eksaddon.matrix.bundled import bundled_as_of

    lines = [f"eksaddon, version {__version__}", "bundled matrices:"]
    matrices = bundled_as_of()
    width = max((len(addon) for addon, _ in matrices), default=0)
    lines += [f"  {addon:<{width}}  as of {as_of or 'unknown'}" for addon, as_of in matrices]
    click.echo("\n".join(lines))
    ctx.exit()


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and the bundled matrices, and exit.",
)
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
    """Plan, check and carry out safe Amazon EKS add-on and cluster upgrades.

    Exit codes: 0 passed, 1 check failed, 2 usage or input error, 3 environment or API error,
    4 upgrade stopped part-way (journal kept), 130 interrupted.
    """
    from eksaddon.cli.options import GlobalOptions  # loads the matrix layer: not for --help

    ctx.obj = GlobalOptions(matrix=matrix, debug=debug)


# Objects allocated before the interpreter's youngest generation is collected. CPython's 700
# suits a program whose objects die young; eksaddon's live to its end: making one EKS client
# allocates botocore's models (~10^5 objects), and with 700 the run walked them in ~65 young, ~5
# middle and one full collection that found next to nothing to free (a 200-cluster fleet check:
# 0.2-0.5 s of collection pauses at load 10, the full one at start-up before the first request;
# 0.05-0.18 s with 20,000). Cyclic garbage is still collected, a little later.
YOUNG_GENERATION = 20_000


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI inside the error boundary and exit with its code."""
    if argv is None:  # this process is eksaddon's own (a caller's collector is left alone)
        gc.set_threshold(YOUNG_GENERATION, *gc.get_threshold()[1:])
    args = sys.argv[1:] if argv is None else argv
    instruction = os.environ.get(COMPLETE_VAR)
    if instruction:  # the shell asks for completions (click's protocol; see cli/completion.py)
        from click.shell_completion import shell_complete

        sys.exit(run(lambda: shell_complete(cli, {}, PROGRAM, COMPLETE_VAR, instruction), args))

    def invoke() -> int:
        # Not cli.main(): it prints to stderr on Ctrl-C and on usage errors itself, and the error
        # boundary must stay the only place that writes an error line.
        with cli.make_context(PROGRAM, list(args)) as ctx:
            return int(cli.invoke(ctx) or 0)

    # From here the boundary is active: SIGINT and SIGTERM become exit 130 and one line.
    with signals_interrupt():
        code = run(invoke, args)
    if argv is None:  # this process ends here (the console script, python -m eksaddon)
        # The interpreter's last collection would walk every object still alive only to free
        # it a moment later: a fleet check's heap (botocore's models and what making the clients
        # left behind, the reports) took 0.1-0.2 s of its exit. Frozen, it is not walked.
        gc.freeze()
    sys.exit(code)
