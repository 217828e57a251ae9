"""The warm CLI's server (see ``warm_cli.py``): run as a script, never imported by the tests.

It imports eksaddon, the CLI and both SDKs once, and has botocore read the EKS and STS models,
as the console script would on its way to its first request. For each request that arrives on
the socket (file descriptor ``argv[1]``) it forks a child that becomes one ``eksaddon`` process:
its own session, the given stdin, stdout, stderr, working directory, environment and arguments,
the console script's entry point, and the interpreter's own exit. The server starts no thread,
so forking it is safe; its children run side by side, and it reports each one's wait status.

What a fresh process decides from its environment while importing is decided here once, from
the server's: a request whose environment differs in such a variable is refused (the test must
start the installed script), except ``KUBECONFIG`` and ``TZ``, which each child applies again.
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys
from pathlib import Path
from typing import IO, Any

# As the console script names itself (its full path, as pip's script leaves sys.argv[0]):
# eksaddon then installs its early signal handlers here, and every child inherits them, as a
# freshly started ``eksaddon`` would have them. Its sys.path starts with the script's directory,
# not this one's: nothing of the tests is importable in a child.
SCRIPT = str(Path(sys.executable).with_name("eksaddon"))
sys.argv[0] = SCRIPT
sys.path[0] = os.path.dirname(SCRIPT)

import atexit  # noqa: E402
import fcntl  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import pkgutil  # noqa: E402
import termios  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import boto3  # noqa: E402, F401 - for its import's cost
import botocore.loaders  # noqa: E402
import botocore.session  # noqa: E402
import kubernetes.client  # noqa: E402
import kubernetes.config  # noqa: E402
import kubernetes.config.kube_config  # noqa: E402

import eksaddon  # noqa: E402
import eksaddon.cli  # noqa: E402

# The API classes eksaddon's Kubernetes gateway uses.
APIS = ("CoreV1Api", "AppsV1Api", "PolicyV1Api", "RbacAuthorizationV1Api", "ApiextensionsV1Api")
# The botocore clients eksaddon makes (gateways/aws.py), and the EKS paginators it asks for.
SERVICES = ("eks", "sts")

# Read while importing, by Python or by a library, and not read again later: HOME (botocore's
# ~/.aws/models and credential cache), the locale (stdio encodings, gettext), PYTHON* (the
# interpreter's set-up). Found by recording every environment read of the imports above.
FIXED_NAMES = ("HOME", "LANG", "LANGUAGE")
FIXED_PREFIXES = ("LC_", "PYTHON")


def warm_up() -> None:
    """What a run would import on its way: every eksaddon module (the CLI imports most lazily)
    and the Kubernetes client's API classes, which the client loads only when first named (its
    models with them: over a second of CPU under load, more than all the other imports)."""
    for module in pkgutil.walk_packages(eksaddon.__path__, "eksaddon."):
        importlib.import_module(module.name)
    for api in APIS:
        getattr(kubernetes.client, api)


def preload_models() -> None:
    """botocore's JSON models, read once here instead of in every child (~0.5 s of CPU each
    under load): a data loader that has read them, handed to every session a child makes.

    No session is made here: a session reads the AWS_* environment, which is the child's. The
    loader is what ``botocore.session`` would create when AWS_DATA_PATH is unset (its cache is
    keyed by the same calls a client makes); a session with a data path of its own gets a new
    loader, as before. Models are data files that no session changes."""
    loader = botocore.loaders.create_loader()
    loader.load_data_with_path("endpoints")
    loader.load_data("partitions")
    loader.load_data("sdk-default-configuration")
    for service in SERVICES:
        loader.load_service_model(service, "service-2")
        loader.load_service_model(service, "endpoint-rule-set-1")
    eks_version = loader.determine_latest_version("eks", "service-2")
    loader.load_service_model("eks", "paginators-1", eks_version)  # as get_paginator asks
    create = botocore.session.create_loader

    def create_loader(search_path_string: str | None = None) -> Any:
        return loader if search_path_string is None else create(search_path_string)

    botocore.session.create_loader = create_loader


def fixed_at_import(env: dict[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in env.items()
        if name in FIXED_NAMES or name.startswith(FIXED_PREFIXES)
    }


SERVER_FIXED = fixed_at_import(dict(os.environ))
MAX_MESSAGE = 1 << 20


def refusal(env: dict[str, str]) -> str | None:
    wanted = fixed_at_import(env)
    if wanted == SERVER_FIXED:
        return None
    names = sorted(n for n in {*wanted, *SERVER_FIXED} if wanted.get(n) != SERVER_FIXED.get(n))
    return f"{', '.join(names)}: not the warm server's, which it read while importing"


def std_streams() -> None:
    """Python's standard streams over the new file descriptors 0-2, made as at its start (the
    server's own were made for the server's descriptors: a terminal, a pipe, a file): stdout
    line-buffered on a terminal only, stderr always, and stderr's errors backslash-escaped."""
    errors = sys.stdout.errors
    streams = {
        "stdin": stream(0, "r", -1, errors),
        "stdout": stream(1, "w", 1 if os.isatty(1) else -1, errors),
        "stderr": stream(2, "w", 1, "backslashreplace"),
    }
    for name, made in streams.items():
        setattr(sys, name, made)
        setattr(sys, f"__{name}__", made)


def stream(fd: int, mode: str, buffering: int, errors: str | None) -> IO[str]:
    """A standard stream (open for the process's life: no context manager)."""
    encoding = sys.stdout.encoding
    return open(fd, mode, buffering, encoding, errors, newline="\n", closefd=False)


def become_the_cli(request: dict[str, Any], fds: list[int]) -> None:
    """In the child: the process the console script would be, up to its entry point. The
    entry point's SystemExit (or anything it lets escape) ends the child as it ends any Python
    program: atexit handlers, threads joined, streams flushed, the exit code or a traceback."""
    os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in set(fds):
        os.close(fd)
    if request.get("terminal"):  # stdin is a pty: the session's controlling terminal, as for
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # a login shell's child (Ctrl-C is its SIGINT)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    # kubernetes took its default kubeconfig from $KUBECONFIG when imported (the server's).
    default = os.environ.get("KUBECONFIG", "~/.kube/config")
    kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = default
    kubernetes.config.KUBE_CONFIG_DEFAULT_LOCATION = default
    std_streams()
    sys.argv = [SCRIPT, *request["argv"]]
    try:
        eksaddon.cli.main()  # as the console script: argv None, sys.argv[1:], to its sys.exit
    except SystemExit as done:
        code = exit_code(done.code)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    else:  # main always exits; the script would exit 0 after it
        code = 0
    finish(code)


def exit_code(code: object) -> int:
    """What the interpreter makes of SystemExit's code (and prints, if it is not a number)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def finish(code: int) -> None:
    """The interpreter's exit up to what anyone can see: threads joined, atexit handlers, the
    streams flushed. Tearing down the modules the server imported (a tenth of a second of CPU,
    nothing a test could observe) is left to the kernel."""
    threading._shutdown()  # type: ignore[attr-defined]  # what Py_FinalizeEx calls first
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: the interpreter's exit ignores it too
            code = 120
    os._exit(code)


def send(channel: socket.socket, reply: dict[str, Any]) -> None:
    try:
        channel.send(json.dumps(reply).encode())
    except OSError:  # the test process is gone or done (its end closed): nobody to tell
        pass


def serve(channel: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """Fork a child per request; report each one's end. Returns in a child only (its request
    and descriptors); in the server, None once the test process has closed its end."""
    running: dict[int, int] = {}  # pidfd -> pid
    while True:
        ready, _, _ = select.select([channel.fileno(), *running], [], [])
        for pidfd in (fd for fd in ready if fd in running):
            pid = running.pop(pidfd)
            os.close(pidfd)
            _, status = os.waitpid(pid, 0)
            send(channel, {"ended": pid, "status": status})
        if channel.fileno() not in ready:
            continue
        message, fds, _, _ = socket.recv_fds(channel, MAX_MESSAGE, 3)
        if not message:  # the test process closed its end
            return None
        request = json.loads(message)
        refused = refusal(request["env"])
        if refused is not None:
            for fd in fds:
                os.close(fd)
            send(channel, {"refused": refused})
            continue
        pid = os.fork()
        if pid == 0:
            channel.close()
            for pidfd in running:
                os.close(pidfd)
            return request, fds
        for fd in fds:
            os.close(fd)
        running[os.pidfd_open(pid)] = pid
        send(channel, {"started": pid})


if __name__ == "__main__":
    warm_up()
    preload_models()
    gc.freeze()  # no collection in a child touches (and so copies) the server's objects
    job = serve(socket.socket(fileno=int(sys.argv[1])))
    if job is not None:
        become_the_cli(*job)
