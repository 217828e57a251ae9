"""Options shared by several commands, and click types that parse with our own strict parsers."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import click

from eksaddon.addons import DEFAULT_ADDON as DEFAULT_ADDON
from eksaddon.errors import EksAddonError
from eksaddon.matrix import Matrix, load_matrix
from eksaddon.matrix.model import AddonType
from eksaddon.reports import OutputFormat
from eksaddon.versions import AddonVersion, KubernetesVersion

F = TypeVar("F", bound=Callable[..., Any])


class GlobalOptions(NamedTuple):
    """What the top-level group parsed, handed to every command through click's context."""

    matrix: Path | None
    debug: bool

    def load(self, addon: str) -> Matrix:
        return load_matrix(addon, self.matrix)


if TYPE_CHECKING:  # click 8.5 made ParamType generic; older releases cannot be subscripted
    _ParamType = click.ParamType[Any]
else:
    _ParamType = click.ParamType


class _Parsed(_ParamType):
    """A click type that delegates to one of our parsers, keeping its exact message.

    ``completes`` names what the shell completes it to (see eksaddon.cli.completion).
    """

    def __init__(self, name: str, parser: Callable[[str], Any], completes: str) -> None:
        self.name = name
        self._parser = parser
        self._completes = completes

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[Any]:
        from eksaddon.cli.completion import complete_versions

        return complete_versions(self._completes, ctx, incomplete)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self._parser(value)
        except EksAddonError as error:
            self.fail(error.message, param, ctx)


ADDON_VERSION = _Parsed("VERSION", AddonVersion.parse, "builds")
KUBERNETES_VERSION = _Parsed("K", KubernetesVersion.parse, "kubernetes")


def _target(text: str) -> str:
    if text.strip().lower() in ("latest", "default"):
        return text.strip().lower()
    return str(AddonVersion.parse(text))


TARGET = _Parsed("VERSION|latest|default", _target, "targets")


class Seconds(click.FloatRange):
    """A number of seconds at least ``minimum``, and finite: click's FloatRange lets ``nan``
    through (every comparison with it is false), which would mean no timeout at all."""

    name = "seconds"

    def __init__(self, minimum: float) -> None:
        super().__init__(min=minimum)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a finite number of seconds.", param, ctx)
        return seconds


def _complete_addons(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from eksaddon.cli.completion import complete_addons

    return complete_addons(ctx, param, incomplete)


def addon_option(function: F) -> F:
    return click.option(
        "--addon",
        default=DEFAULT_ADDON,
        show_default=True,
        metavar="NAME",
        help="Add-on whose matrix to use.",
        shell_complete=_complete_addons,
    )(function)


def kube_options(kubeconfig_help: str) -> Callable[[F], F]:
    """--kubeconfig and --context, for the commands that read (or write) the cluster itself."""

    def decorate(function: F) -> F:
        function = click.option(
            "--context", "kube_context", metavar="NAME", help="kubeconfig context to use."
        )(function)
        return click.option("--kubeconfig", type=click.Path(dir_okay=False), help=kubeconfig_help)(
            function
        )

    return decorate


def output_option(*formats: OutputFormat) -> Callable[[F], F]:
    choices = [str(f) for f in formats]
    return click.option(
        "-o",
        "--output",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )


def type_option(function: F) -> F:
    return click.option(
        "--type",
        "addon_type",
        type=click.Choice(["auto", *(str(t) for t in AddonType)]),
        default="auto",
        show_default=True,
        help="Installation type: managed (EKS add-on) or self-managed (manifest). "
        "auto: an -eksbuild.N version is managed, a plain vX.Y.Z self-managed.",
    )(function)


def feature_option(function: F) -> F:
    return click.option(
        "--feature",
        "features",
        multiple=True,
        metavar="NAME",
        help="A feature in use (repeatable), e.g. prefix-delegation, ipv6, network-policy. "
        "Its version floors then apply.",
    )(function)


def parse_type(value: str) -> AddonType | None:
    return None if value == "auto" else AddonType(value)


def global_options(ctx: click.Context) -> GlobalOptions:
    options = ctx.find_object(GlobalOptions)
    return options if options is not None else GlobalOptions(matrix=None, debug=False)


def progress_option(function: F) -> F:
    """--progress, for the commands that change a cluster and report while they wait."""
    return click.option(
        "--progress",
        "progress_mode",
        type=click.Choice(["auto", "live", "plain", "none"]),
        default="auto",
        show_default=True,
        help="How progress is shown on stderr: live (a display redrawn in place), plain (one "
        "line per change), none. auto: live on a terminal, plain on a pipe or when $CI is set.",
    )(function)
