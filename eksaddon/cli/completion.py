"""Shell completion through click's own mechanism, and ``eksaddon completion SHELL``.

The shell runs ``eksaddon`` with ``_EKSADDON_COMPLETE=<shell>_complete`` and the words typed so far
(``COMP_WORDS``/``COMP_CWORD``); :func:`eksaddon.cli.main` hands that to click, which resolves the
command and asks the parameter for its values. The values come from the data, never a list here:
``--addon`` the bundled matrix files, the version options the builds (and self-managed releases)
the matrix knows, ``-k`` the Kubernetes versions it covers. Nothing here imports an SDK; a matrix
that cannot be read completes to nothing rather than print an error into the shell.
"""

from __future__ import annotations

from typing import Any

import click
from click.shell_completion import CompletionItem, get_completion_class

from eksaddon.cli import COMPLETE_VAR, PROGRAM

SHELLS = ("bash", "zsh", "fish")
TARGET_WORDS = (("latest", "the newest build offered"), ("default", "EKS's default build"))


def _matches(value: str, incomplete: str) -> bool:
    # "1.18" completes to "v1.18.3-eksbuild.3" too: versions are typed with or without the "v".
    return value.startswith(incomplete) or (
        value.startswith("v") and value[1:].startswith(incomplete)
    )


def _matrix(ctx: click.Context) -> Any:
    """The matrix the command would use (its --addon, the global --matrix), or None."""
    from eksaddon.cli.options import DEFAULT_ADDON
    from eksaddon.errors import EksAddonError
    from eksaddon.matrix import load_matrix

    addon = ctx.params.get("addon") or DEFAULT_ADDON
    override = ctx.find_root().params.get("matrix")
    try:
        return load_matrix(addon, override)
    except (EksAddonError, OSError):
        return None


def complete_addons(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from eksaddon.matrix.bundled import bundled_addons

    return [addon for addon in bundled_addons() if addon.startswith(incomplete)]


def complete_versions(kind: str, ctx: click.Context, incomplete: str) -> list[CompletionItem[str]]:
    """Values for a version option: ``kind`` is "builds", "targets" or "kubernetes"."""
    matrix = _matrix(ctx)
    if matrix is None:
        return []
    candidates: list[tuple[str, str]]
    if kind == "kubernetes":
        candidates = [
            (str(version), f"latest {entry.latest}")
            for version, entry in sorted(matrix.kubernetes.items(), reverse=True)
        ]
    else:
        candidates = [(str(build.version), "EKS add-on build") for build in matrix.builds]
        candidates += [(str(r.version), "self-managed release") for r in matrix.releases]
        if kind == "targets":
            candidates = [*TARGET_WORDS, *candidates]
    return [
        CompletionItem(value, help=help_text)
        for value, help_text in candidates
        if _matches(value, incomplete)
    ]


def completion_script(shell: str, cli: click.Command) -> str:
    """The script that makes ``shell`` complete eksaddon (click's own, for this program)."""
    completion_class = get_completion_class(shell)
    if completion_class is None:  # pragma: no cover - click.Choice allows only SHELLS
        raise click.BadParameter(f"no completion for {shell}")
    return completion_class(cli, {}, PROGRAM, COMPLETE_VAR).source()


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion_command(ctx: click.Context, shell: str) -> int:
    """Print the shell completion script for bash, zsh or fish.

    \b
      eval "$(eksaddon completion bash)"   # in ~/.bashrc (bash 4.4 or later)
      eval "$(eksaddon completion zsh)"    # in ~/.zshrc, after compinit
      eksaddon completion fish > ~/.config/fish/completions/eksaddon.fish
    """
    click.echo(completion_script(shell, ctx.find_root().command), nl=False)
    return 0
