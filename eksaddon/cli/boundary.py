"""The one error boundary (after pre-commit's ``error_handler``).

Every way a run can end becomes an exit code from :class:`ExitCode` and, on failure, one line on
stderr that names the problem and the next step. Tracebacks appear only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

import click

from eksaddon.errors import EksAddonError, ExitCode
from eksaddon.textsafety import for_terminal

PROGRAM = "eksaddon"


def run(entry: Callable[[], int], argv: Sequence[str]) -> int:
    """Call ``entry`` and turn whatever happens into an exit code."""
    debug = _global_flag("--debug", argv)
    try:
        return entry()
    except EksAddonError as error:
        return _fail(error.exit_code, error.one_line(), debug=debug)
    except click.exceptions.Exit as done:  # --help, --version
        return int(done.exit_code)
    except click.UsageError as error:
        if type(error).__name__ == "NoArgsIsHelpError" and error.ctx is not None:
            # A bare `eksaddon` or `eksaddon matrix`: the help is the answer, on stdout.
            click.echo(error.ctx.get_help())
            return int(ExitCode.USAGE)
        context = error.ctx or _parsing_context(error)
        command = context.command_path if context is not None else PROGRAM
        hint = f" (see '{command} --help')"
        return _fail(ExitCode.USAGE, f"{command}: {error.format_message()}{hint}", debug=debug)
    except (KeyboardInterrupt, click.Abort):
        return _fail(ExitCode.INTERRUPTED, "interrupted", debug=debug)
    except BrokenPipeError:
        # The reader went away (`eksaddon ... | head`): nothing left to say, nobody to say it to.
        _silence_stdout()
        return ExitCode.OK
    except Exception as error:  # the boundary: anything else is a bug, still one line
        message = (
            f"internal error: {type(error).__name__}: {error}; rerun with --debug for the "
            "traceback and report it"
        )
        return _fail(ExitCode.ENVIRONMENT, message, debug=debug)


def _parsing_context(error: click.UsageError) -> click.Context | None:
    """The context of the command whose arguments failed to parse.

    click's option parser raises some errors (an option missing its value, a flag given one)
    without a context; the command's ``parse_args(ctx, args)`` frame still holds it, and the
    deepest one is the subcommand's, so the message can name ``eksaddon plan``, not ``eksaddon``.
    """
    found = None
    frame = error.__traceback__
    while frame is not None:
        candidate = frame.tb_frame.f_locals.get("ctx")
        if isinstance(candidate, click.Context):
            found = candidate
        frame = frame.tb_next
    return found


def _global_flag(flag: str, argv: Sequence[str]) -> bool:
    """Whether ``flag`` appears among the global options, before the first command word."""
    takes_value = {"--matrix"}
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == flag:
            return True
        elif arg in takes_value:
            skip = True
        elif not arg.startswith("-"):
            return False
    return False


def _fail(code: ExitCode, message: str, *, debug: bool) -> int:
    if debug:
        import traceback  # only --debug prints one; every run would pay ~3 ms for the import

        traceback.print_exc(file=sys.stderr)
    # Messages carry text from outside (an endpoint's error, a name, a path): one line, with
    # every control character, escape sequence and bidi override shown as an escape and every
    # credential eksaddon holds redacted.
    line = for_terminal(" ".join(message.split()))
    click.echo(f"{PROGRAM}: error: {line}", err=True)
    return int(code)


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
